"""``.launch``: the payload parser, input resolution against a form, the launch body, and the
launch POST's retry rule (sent once unless the connection could not be made)."""

from __future__ import annotations

import errno
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bsmount.api import applications
from bsmount.api.applications import FormField, launch_body, launch_retry_if, parse_form
from bsmount.api.models import Sample
from bsmount.controls.launch_files import parse_launch, resolve_inputs
from bsmount.errors import ControlError, TransportError
from tests.unit.test_client_mock import Fake, make_client

FORM = [
    FormField("project-id", "project", required=True),
    FormField("sample-id", "sample[]", required=True),
    FormField("genome-id", "select", choices=("hg19", "hg38"), default="hg19"),
    FormField("FlagPCRDuplicates-id", "checkbox", choices=("1",), default=[]),
    FormField("min-read-length", "integer", default="32"),
    FormField("app-session-name", "string"),
]


def test_parse_lines_both_separators_comments_and_name() -> None:
    parsed = parse_launch(
        b"# a comment\n\nproject-id=Projects/P\nsample-id:1,2\n--sample-id=3\n"
        b"name=my run\nInput.genome-id = hg38\ninput_list.sample-id:4\n"
    )
    assert parsed.raw is None
    assert parsed.name == "my run"
    assert parsed.values == {
        "project-id": ["Projects/P"],
        "sample-id": ["1,2", "3", "4"],
        "genome-id": ["hg38"],
    }


def test_parse_value_keeps_later_separators() -> None:
    parsed = parse_launch(b"sample-id=Projects/a:b=c/Samples/S\n")
    assert parsed.values == {"sample-id": ["Projects/a:b=c/Samples/S"]}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty payload"),
        (b"   \n# only a comment\n", "no field=value"),
        (b"just words\n", "line 1: expected field=value"),
        (b"=value\n", "line 1: expected field=value"),
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "expected field=value"),
        (b'{"Properties": {"a": 1}}', "Properties must be a list"),
        (b"\xff\xfe=1\n", "not valid UTF-8"),
    ],
)
def test_parse_refusals(payload: bytes, reason: str) -> None:
    with pytest.raises(ControlError) as info:
        parse_launch(payload)
    assert info.value.errno == errno.EINVAL
    assert reason in str(info.value)


def test_parse_raw_json() -> None:
    body = {"Name": "x", "Properties": [{"Name": "project-id", "Type": "project", "Content": "1"}]}
    assert parse_launch(json.dumps(body).encode()).raw == body


@dataclass
class _Node:
    target: str | None = None
    spec: Any = None


@dataclass
class _Spec:
    entity: Any


@dataclass
class _Ctx:
    """Paths of a small tree: a sample directory, an ``.id.`` link to it, a project."""

    nodes: dict[str, _Node] = field(default_factory=dict)
    client: Any = None

    async def resolve(self, path: str) -> Any:
        if path not in self.nodes:
            raise ControlError(errno.ENOENT, f"no such path: {path}")
        return self.nodes[path]


def _ctx() -> Any:
    sample = Sample(id="30000001", name="S1")
    return _Ctx(
        nodes={
            "Projects/P/Samples/S1": _Node(spec=_Spec(sample)),
            "Projects/P/Samples/.id.30000001": _Node(target="S1"),
            "Projects/P": _Node(spec=_Spec(applications.Application(id="x", name="P"))),
            "Projects": _Node(spec=_Spec(None)),
            "Projects/.id.20000001": _Node(target="P"),
            "Projects/P/Samples": _Node(spec=_Spec(None)),
        }
    )


async def test_resolve_ids_hrefs_paths_and_links() -> None:
    ctx = _ctx()
    inputs = await resolve_inputs(
        ctx,
        FORM,
        {
            "project-id": ["20000001"],
            "sample-id": [
                "Projects/P/Samples/S1, Projects/.id.20000001/Samples/.id.30000001",
                "samples/7",
            ],
            "genome-id": ["hg38"],
            "FlagPCRDuplicates-id": [""],
            "min-read-length": ["40"],
        },
    )
    body = launch_body("run", inputs)
    assert body["StatusSummary"] == "AutoLaunch" and body["AutoStart"] is True
    assert body["Properties"] == [
        {"Name": "Input.project-id", "Type": "project", "Content": "v1pre3/projects/20000001"},
        {
            "Name": "Input.sample-id",
            "Type": "sample[]",
            "Items": [
                "v1pre3/samples/30000001",
                "v1pre3/samples/30000001",
                "v1pre3/samples/7",
            ],
        },
        {"Name": "Input.genome-id", "Type": "string", "Content": "hg38"},
        {"Name": "Input.FlagPCRDuplicates-id", "Type": "string[]", "Items": []},
        {"Name": "Input.min-read-length", "Type": "string", "Content": "40"},
    ]


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"project-id": ["1"], "sample-id": ["1"], "nosuch": ["x"]}, "unknown field nosuch"),
        ({"project-id": ["1"]}, "required field missing: sample-id"),
        ({"project-id": ["1"], "sample-id": ["1"], "genome-id": ["hg99"]}, "not one of hg19"),
        ({"project-id": ["1"], "sample-id": ["1"], "min-read-length": ["x"]}, "not an integer"),
        ({"project-id": ["1"], "sample-id": ["Projects/P"]}, "the field takes samples"),
        ({"project-id": ["1"], "sample-id": ["Projects/Q/Samples/S"]}, "no such path"),
        ({"project-id": ["1"], "sample-id": ["Projects/"]}, "not an entity's directory"),
        ({"project-id": ["v1pre3/samples/1"], "sample-id": ["1"]}, "the field takes projects"),
    ],
)
async def test_resolve_refusals(values: dict[str, list[str]], reason: str) -> None:
    with pytest.raises(ControlError) as info:
        await resolve_inputs(_ctx(), FORM, values)
    assert info.value.errno == errno.EINVAL
    assert reason in str(info.value)


async def test_without_a_form_values_go_as_strings() -> None:
    inputs = await resolve_inputs(_ctx(), None, {"anything": ["a", "b"]})
    assert [i.property() for i in inputs] == [
        {"Name": "Input.anything", "Type": "string", "Content": "b"}
    ]


def test_parse_form_of_the_emulator_shape() -> None:
    record = {
        "Id": "6174178",
        "InputForm": {
            "Fields": [
                {"Id": "project-id", "Type": "project", "Required": True, "Label": "Save To"},
                {"Id": "flag", "Type": "checkbox", "Choices": ["1"], "PropertyType": "string[]"},
            ]
        },
    }
    form = parse_form(record)
    assert form is not None
    assert [(f.id, f.type, f.required, f.sent_type, f.multiple) for f in form] == [
        ("project-id", "project", True, "project", False),
        ("flag", "checkbox", False, "string[]", True),
    ]
    assert parse_form({"Id": "1"}) is None


def test_launch_is_retried_only_before_sending() -> None:
    request = httpx.Request("POST", "http://x")
    assert launch_retry_if(httpx.ConnectError("refused", request=request))
    assert launch_retry_if(httpx.ConnectTimeout("slow", request=request))
    assert not launch_retry_if(httpx.ReadTimeout("lost", request=request))
    assert not launch_retry_if(httpx.ReadError("reset", request=request))
    assert not launch_retry_if(httpx.RemoteProtocolError("cut", request=request))


async def test_launch_with_a_lost_answer_is_sent_once() -> None:
    fake = Fake()

    def lost(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset", request=request)

    fake.on("POST", "/v1pre3/applications/1/appsessions", lost)
    async with make_client(fake) as client:
        with pytest.raises(TransportError):
            await applications.launch(client, "1", {"Properties": []})
    assert fake.paths("/v1pre3/applications") == ["/v1pre3/applications/1/appsessions"]


async def test_launch_answer_at_the_top_level() -> None:
    fake = Fake()
    answer = {"Id": "77", "Name": "run", "Href": "v1pre3/appsessions/77", "Status": "Pending"}
    fake.on(
        "POST",
        "/v1pre3/applications/1/appsessions",
        lambda r: httpx.Response(201, json=answer),
    )
    async with make_client(fake) as client:
        session = await applications.launch(client, "1", {"Properties": []})
    assert (session.id, session.name, session.status) == ("77", "run", "Pending")
    assert json.loads(fake.log[0].content) == {"Properties": []}


def test_a_growing_log_may_hold_more_than_its_known_size() -> None:
    from bsmount._types import FileVersion
    from bsmount.api.content_checks import Where, check_content_range
    from bsmount.errors import StaleFileError

    where = Where("9", 0, 100, "http://blob/x")
    growing = FileVersion("9", 100, None, growing=True)
    check_content_range("bytes 0-99/250", 0, 100, growing, where)  # it grew since: fine
    fixed = FileVersion("9", 100, None)
    with pytest.raises(StaleFileError):
        check_content_range("bytes 0-99/250", 0, 100, fixed, where)
    with pytest.raises(StaleFileError):  # a log never shrinks: that is another file
        check_content_range("bytes 0-49/50", 0, 100, growing, where)
