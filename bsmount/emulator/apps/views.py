"""JSON shapes of the application catalogue (V1pre3ApplicationCompact, V1pre3Application,
V2ApplicationSettings, from the v2 swagger), plus the emulator's [G] ``InputForm``."""

from __future__ import annotations

from typing import Any

from bsmount.emulator.state.applications import AppVersion
from bsmount.emulator.state.model import NULL_DATE, format_date

__all__ = ["application", "application_compact", "application_settings", "version_key"]


def version_key(app: AppVersion) -> tuple[int, ...]:
    """``3.10.4`` sorts after ``3.9.5``."""
    return tuple(int(p) if p.isdigit() else 0 for p in app.version.split("."))


def application_compact(app: AppVersion) -> dict[str, Any]:
    published = app.date_published or app.date_created
    created = app.date_created or app.date_published
    return {
        "Id": app.id,
        "Href": f"v1pre3/applications/{app.id}",
        "Name": app.name,
        "CompanyName": app.company,
        "VersionNumber": app.version,
        "HrefLogo": f"https://basespace.illumina.com/applications/{app.id}/logo",
        "HomepageUri": app.homepage or f"https://basespace.illumina.com/apps/{app.id}",
        "ShortDescription": app.short_description,
        "DateCreated": format_date(created) if created else NULL_DATE,
        "DatePublished": format_date(published) if published else NULL_DATE,
        "PublishStatus": "Published",
        "IsBillingActivated": False,
        "Category": app.category,
        "Classifications": list(app.classifications),
        "AppFamilySlug": app.slug,
        "AppVersionSlug": app.version_slug,
        "Features": list(app.features),
        "LockStatus": "Unlocked",
    }


def application(app: AppVersion, base_url: str) -> dict[str, Any]:
    body = application_compact(app)
    body.update(
        {
            "LongDescription": app.long_description or app.short_description,
            "HrefSettings": f"{base_url}/v2/applications/{app.id}/settings",
            "HrefAgreements": f"{base_url}/v2/applications/{app.id}/agreements",
            "Files": [],
            "Agreements": [],
            "ReleaseNotes": "",
            "WhatsNew": "",
            "BypassForm": False,
            "IsFree": True,
            "ComputeCostPerMinute": 0,
            "DatasetTypesInput": [],
            "DatasetTypesOutput": [],
            # [G] an emulator extension: no route of the real API serves an app's form.
            "InputForm": {
                "Fields": [
                    {
                        "Id": f.id,
                        "Type": f.type,
                        "PropertyType": f.property_type,
                        "Label": f.label,
                        "Required": f.required,
                        "Default": f.default,
                        "Choices": list(f.choices),
                        "Description": f.description,
                    }
                    for f in app.form
                ]
            },
        }
    )
    return body


def application_settings(app: AppVersion, base_url: str) -> dict[str, Any]:
    return {
        "Id": app.id,
        "Href": f"{base_url}/v2/applications/{app.id}/settings",
        "RedirectUri": "",
        "ClientId": f"{int(app.id):032x}",
        "LaunchSources": ["Web", "Api"],
        "LaunchPermissions": ["Everyone"],
        "InvitedUsers": [],
        "HrefLogo": f"https://basespace.illumina.com/applications/{app.id}/logo",
        "HrefScreenshot": "",
        "CompanyName": app.company,
        "Category": app.category,
        "HomepageUri": app.homepage or f"https://basespace.illumina.com/apps/{app.id}",
        "Classifications": list(app.classifications),
        "FeatureFlags": [],
        "IsAnyVersionPublished": True,
        "PublishedDomain": "",
    }
