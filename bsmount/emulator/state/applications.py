"""The application catalogue: launchable apps, their versions and their input forms.

An :class:`AppVersion` is one version of an application, as BaseSpace numbers them: every version
has its own application Id, and the versions of one app share its ``slug`` (``AppFamilySlug``).
Each version has an input form (:class:`FormField`: id, type, label, required, default, choices)
against which ``POST v1pre3/applications/{id}/appsessions`` checks a launch's ``Input.<field id>``
properties, and a ``runner``: what the emulator does when it is launched
(:data:`RUNNERS`, implemented by :mod:`bsmount.emulator.apps.runners`).

Form field types and the property ``Type`` a launch must send for each ([G]: the real forms are
defined in BaseSpace's Forms Builder and never served by the API):

============  ==================  ==============================================================
form type     property Type       value
============  ==================  ==============================================================
project       project             ``Content``: one href/id of a project the caller may write to
sample        sample              ``Content``
sample[]      sample[]            ``Items``/``items``: one or more hrefs/ids
biosample[]   biosample[]         ``Items``
appresult     appresult           ``Content``
file          file                ``Content``
string        string              ``Content``: any text
integer       string              ``Content``: a decimal integer (``"32"``)
checkbox      string[]            ``Items``: a subset of the field's choices (``[]`` = unchecked)
select        string              ``Content``: one of the field's choices
============  ==================  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bsmount.emulator.state.model import Application

__all__ = ["FIELD_TYPES", "RUNNERS", "AppVersion", "FormField"]

#: Form field type -> the property Type a launch sends for it.
FIELD_TYPES: dict[str, str] = {
    "project": "project",
    "sample": "sample",
    "sample[]": "sample[]",
    "biosample": "biosample",
    "biosample[]": "biosample[]",
    "appresult": "appresult",
    "appresult[]": "appresult[]",
    "file": "file",
    "file[]": "file[]",
    "string": "string",
    "integer": "string",
    "checkbox": "string[]",
    "select": "string",
}

#: What a launched app does (see :mod:`bsmount.emulator.apps.work`).
RUNNERS = ("fastq-toolkit", "aligner", "germline-caller", "qc-report")


@dataclass(frozen=True)
class FormField:
    """One input of an app's launch form (``Input.<id>`` in a launch)."""

    id: str
    type: str
    label: str = ""
    required: bool = False
    # A string, or a list of strings for checkboxes and entity lists; None: no default.
    default: str | list[str] | None = None
    choices: tuple[str, ...] = ()
    description: str = ""

    @property
    def property_type(self) -> str:
        return FIELD_TYPES[self.type]

    @property
    def is_entity(self) -> bool:
        return self.type.removesuffix("[]") in (
            "project",
            "sample",
            "biosample",
            "appresult",
            "file",
        )


@dataclass(eq=False)
class AppVersion:
    """One launchable application version (its own Id; versions share ``slug``)."""

    id: str
    name: str
    version: str
    slug: str
    runner: str
    form: tuple[FormField, ...]
    company: str = "Illumina, Inc."
    category: str = "Native"
    short_description: str = ""
    long_description: str = ""
    homepage: str = ""
    classifications: tuple[str, ...] = ()
    date_created: datetime | None = None
    date_published: datetime | None = None
    # How long a launched session stays Pending, then Running (seconds; the control plane
    # and POST /_emulator/launches/config change them).
    pending_seconds: float = 0.5
    run_seconds: float = 3.0
    features: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ref(self) -> Application:
        """The compact reference an AppSession carries."""
        return Application(self.id, self.name, self.version, self.slug)

    @property
    def version_slug(self) -> str:
        return f"{self.slug}.{self.version}"

    def field(self, field_id: str) -> FormField | None:
        for item in self.form:
            if item.id == field_id:
                return item
        return None
