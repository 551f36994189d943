"""Applications and their launch over the API: the catalogue, one app's record, settings and
versions, its input form, ``bs launch application`` and the logs of an analysis.

=============================  ==================================================================
action                         request
=============================  ==================================================================
list applications              ``GET v2/applications`` (latest version of each; paged)
one application                ``GET v2/applications/{id}``
its settings                   ``GET v2/applications/{id}/settings``
its versions                   ``GET v2/applications/{id}/versions`` (``v1pre3`` envelope)
launch it                      ``POST v1pre3/applications/{id}/appsessions`` with
                               ``{"Name", "StatusSummary", "AutoStart", "Properties": [...]}``
an analysis's logs             ``GET v2/appsessions/{id}/logfiles`` (``filehrefcontentresolution``)
=============================  ==================================================================

A launch is not idempotent: it is sent at most once unless the connection could not even be
made (:func:`launch_retry_if`), so a lost answer never starts a second analysis. The input
form (:class:`FormField`) is read from the application's ``Form`` (the emulator's catalogue,
docs/emulator.md) — the real API publishes none (upload-launch.md §3.2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

import httpx

from bsmount.api.models import AppSession, Entity, FileInfo, _obj, _text, parse_list
from bsmount.api.retry import RetryPolicy
from bsmount.api.routes import expect_object, segment, unwrap

__all__ = [
    "ENTITY_TYPES",
    "Application",
    "FormField",
    "LaunchInput",
    "application",
    "application_settings",
    "application_versions",
    "launch",
    "launch_body",
    "launch_retry_if",
    "list_applications",
    "logfiles",
    "parse_form",
]

#: Form field types whose values are entities, and the v1pre3 collection of each.
ENTITY_TYPES: dict[str, str] = {
    "project": "projects",
    "sample": "samples",
    "appresult": "appresults",
    "run": "runs",
    "file": "files",
    "biosample": "biosamples",
    "dataset": "datasets",
    "appsession": "appsessions",
}


#: Form types whose launch property has another Type (docs/emulator.md, "Applications").
_PROPERTY_TYPES = {"integer": "string", "select": "string", "checkbox": "string[]"}


class _Client(Protocol):
    retry_policy: RetryPolicy

    async def _call(
        self,
        method: str,
        path_or_href: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        kind: str = "api",
        idempotent: bool = True,
        retry_policy: RetryPolicy | None = None,
        retry_if: Callable[[BaseException], bool] | None = None,
    ) -> Any: ...

    async def get_json(self, path_or_href: str, params: Mapping[str, str] | None = None) -> Any: ...

    async def list_items(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]: ...

    @property
    def file_listings(self) -> Any: ...


@dataclass(frozen=True, kw_only=True)
class Application(Entity):
    """One application (``V1pre3ApplicationCompact`` / ``V1pre3Application``)."""

    kind: ClassVar[str] = "applications"
    version: str = ""
    category: str = ""
    description: str = ""

    @classmethod
    def from_json(cls, obj: Any) -> Self:
        o = _obj(obj)
        common = cls._common(o)
        return cls(
            **common,
            version=_text(o, "VersionNumber"),
            category=_text(o, "Category"),
            description=_text(o, "ShortDescription"),
        )


@dataclass(frozen=True)
class FormField:
    """One input of an application's launch form (``Input.<id>`` on the launch)."""

    id: str
    type: str = "string"  # "string", "integer", "project", "sample[]"...
    label: str = ""
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    description: str = ""
    property_type: str = ""  # the launch property's Type ("string[]" for a checkbox)

    @property
    def sent_type(self) -> str:
        """The ``Type`` a launch gives this field's property."""
        return self.property_type or _PROPERTY_TYPES.get(self.type.lower(), self.type)

    @property
    def multiple(self) -> bool:
        return self.sent_type.endswith("[]")

    @property
    def base_type(self) -> str:
        return self.type.removesuffix("[]")

    @property
    def entity_collection(self) -> str | None:
        """``samples``, ``projects``... when the field's values are entities."""
        return ENTITY_TYPES.get(self.base_type.lower())


def _field_from(obj: Mapping[str, Any]) -> FormField | None:
    ident = _text(obj, "Id", "Name", "id", "name").removeprefix("Input.")
    if not ident:
        return None
    choices = obj.get("Choices") or obj.get("Options") or obj.get("choices") or ()
    if isinstance(choices, Mapping):
        choices = list(choices)
    required = obj.get("Required", obj.get("required", False))
    return FormField(
        id=ident,
        type=_text(obj, "Type", "type") or "string",
        label=_text(obj, "Label", "label"),
        required=required is True or str(required).lower() == "true",
        default=obj.get("Default", obj.get("default")),
        choices=tuple(str(c) for c in choices if isinstance(c, str | int | float)),
        description=_text(obj, "Description", "HelpText", "description"),
        property_type=_text(obj, "PropertyType"),
    )


def parse_form(*documents: Any) -> list[FormField] | None:
    """The input form found in the first of ``documents`` (an application's JSON, its
    settings) that has one: a list of fields under ``Form``/``InputForm`` (directly or under
    ``Fields``); None when none has a form."""
    for document in documents:
        body = _obj(unwrap(document))
        for key in ("Form", "InputForm", "LaunchForm"):
            form = body.get(key)
            if isinstance(form, Mapping):
                form = form.get("Fields") or form.get("Items")
            if isinstance(form, list):
                fields = [f for f in (_field_from(_obj(item)) for item in form) if f is not None]
                return fields
    return None


@dataclass(frozen=True)
class LaunchInput:
    """One input of a launch, resolved: a string, a list of strings, or entity hrefs."""

    field_id: str
    type: str
    values: tuple[str, ...]  # hrefs ("v1pre3/samples/1") for entities, plain text otherwise
    multiple: bool = False

    def property(self) -> dict[str, Any]:
        prop: dict[str, Any] = {"Name": f"Input.{self.field_id}", "Type": self.type}
        if self.multiple:
            prop["Items"] = list(self.values)
        else:
            prop["Content"] = self.values[0] if self.values else ""
        return prop


def launch_body(name: str, inputs: Sequence[LaunchInput]) -> dict[str, Any]:
    """The ``POST .../appsessions`` body of a launch (upload-launch.md §3.1)."""
    return {
        "Name": name,
        "StatusSummary": "AutoLaunch",
        "AutoStart": True,
        "Properties": [i.property() for i in inputs],
    }


def launch_retry_if(exc: BaseException) -> bool:
    """A launch is retried only when its request surely never left: the connection could not
    be made (or no pooled connection came free). A timeout, a reset or a 5xx may have started
    the analysis already."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


async def list_applications(client: _Client) -> list[Application]:
    return parse_list(Application, await client.list_items("v2/applications"))


async def application(client: _Client, application_id: str) -> dict[str, Any]:
    """One application's whole record (``V1pre3Application``)."""
    path = f"v2/applications/{segment(application_id)}"
    return expect_object(await client.get_json(path), path)


async def application_settings(client: _Client, application_id: str) -> dict[str, Any]:
    path = f"v2/applications/{segment(application_id)}/settings"
    return expect_object(await client.get_json(path), path)


async def application_versions(client: _Client, application_id: str) -> list[Application]:
    path = f"v2/applications/{segment(application_id)}/versions"
    return parse_list(Application, await client.list_items(path))


async def launch(client: _Client, application_id: str, body: Mapping[str, Any]) -> AppSession:
    """Start an analysis; the new AppSession. Sent once (see :func:`launch_retry_if`)."""
    path = f"v1pre3/applications/{segment(application_id)}/appsessions"
    answer = await client._call(
        "POST", path, json_body=dict(body), idempotent=False, retry_if=launch_retry_if
    )
    return AppSession.from_json(expect_object(answer, f"POST {path}"))


async def logfiles(client: _Client, appsession_id: str) -> list[FileInfo]:
    """The log files of an analysis (their signed URLs go to the content reader)."""
    listed: list[FileInfo] = await client.file_listings.appsession_logs(appsession_id)
    return listed
