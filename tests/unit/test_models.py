"""Models parsed from the real shapes of basespace-api.md, plus hostile input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bsmount._types import FileVersion
from bsmount.api.models import (
    MAX_SIZE,
    AppResult,
    AppSession,
    BioSample,
    Dataset,
    Entity,
    FileInfo,
    Genome,
    Project,
    Run,
    Sample,
    User,
    parse_date,
    parse_entity,
    parse_list,
    parse_size,
    unquote_etag,
)
from bsmount.api.properties import parse_property, property_from_items
from bsmount.api.urls import is_signed_content_url, parse_content_url

COMPACT_USER = {
    "Id": "9319322",
    "Href": "v1pre3/users/9319322",
    "Name": "Illumina Public Data",
    "DateCreated": "0001-01-01T00:00:00.0000000Z",
    "GravatarUrl": "https://secure.gravatar.com/avatar/x.jpg?s=20&d=mm&r=PG",
}

PROJECT_LIST_ITEM = {
    "Id": "48078043",
    "UserOwnedBy": COMPACT_USER,
    "Href": "v1pre3/projects/48078043",
    "Name": "HiSeqX: Nextera DNA Flex (...)",
    "Description": "demo data",
    "DateCreated": "2017-09-21T19:19:28.0000000Z",
    "DateModified": "2020-02-01T01:23:32.0000000Z",
    "HasCollaborators": True,
    "TotalSize": 3613767739481,
}

SAMPLE_ITEM = {
    "Id": "155127035",
    "Href": "v1pre3/samples/155127035",
    "IsMerged": False,
    "UserOwnedBy": COMPACT_USER,
    "Name": "Myeloid-RNA-SeraSeq-Rep1",
    "ExperimentName": "Myeloid RNA Panel",
    "SampleId": "Myeloid-RNA-SeraSeq-Rep1",
    "Status": "Complete",
    "StatusSummary": "",
    "DateCreated": "2018-07-19T23:50:10.0000000Z",
    "TotalSize": 97053000,
    "Genome": {"Id": "4", "DisplayName": "Homo sapiens - UCSC (hg19)", "Build": "hg19"},
    "Read1": 151,
    "Read2": 151,
    "IsPairedEnd": True,
}

APPRESULT_ITEM = {
    "Id": "137677550",
    "Href": "v1pre3/appresults/137677550",
    "UserOwnedBy": COMPACT_USER,
    "Name": "Myeloid-RNA-SeraSeq-Rep8",
    "Status": "Complete",
    "StatusSummary": "Application completed successfully",
    "DateCreated": "2018-07-24T21:22:32.0000000Z",
    "TotalSize": 680414,
    "AppSession": {
        "Id": "111537916",
        "Name": "RNA Amplicon 07/24/2018 1:39:05",
        "Href": "v1pre3/appsessions/111537916",
        "Status": "Complete",
        "QcStatus": "Undefined",
        "TotalSize": 17780405,
    },
}

FILE_LIST_ITEM = {
    "Id": "11710715826",
    "Href": "https://api.basespace.illumina.com/v2/files/11710715826",
    "HrefContent": "https://api.basespace.illumina.com/v2/files/11710715826/content",
    "Name": "Myeloid-RNA-Brain-Rep1_S1_L001_R1_001.fastq.gz",
    "ContentType": "application/x-gzip",
    "Size": 48526491,
    "Path": "Myeloid-RNA-Brain-Rep1_S1_L001_R1_001.fastq.gz",
    "IsArchived": False,
    "DateCreated": "2018-07-19T23:50:10.0000000Z",
    "DateModified": "2018-07-19T23:50:10.0000000Z",
    "ETag": "3a1f3ea201911c15cf166a58ecc783d0-6",
    "IdAsLong": 11710715826,
}

FILE_SINGLE = {
    "UploadStatus": "complete",
    "Properties": {
        "Items": [],
        "DisplayedCount": 0,
        "TotalCount": 0,
        "Href": "v1pre3/files/11761995736/properties",
    },
    "Id": "11761995736",
    "Href": "v1pre3/files/11761995736",
    "HrefContent": "v1pre3/files/11761995736/content",
    "Name": "X.SeraSeq_S23.fusions.csv",
    "ContentType": "application/octet-stream",
    "Size": 1247,
    "Path": "X.SeraSeq_S23.fusions.csv",
    "IsArchived": False,
    "DateCreated": "2018-07-24T21:22:33.0000000Z",
    "DateModified": "2018-07-24T21:22:33.0000000Z",
    "ParentAppResult": {"Id": "137677550"},
    "ETag": "0409bb071afb31113d8524fda7a3d661",
}

DATASET_ITEM = {
    "Id": "ds.ac82a306af3847f2b53ecb695bc22400",
    "Href": "https://api.basespace.illumina.com/v2/datasets/ds.ac82a306af3847f2b53ecb695bc22400",
    "HrefFiles": "https://api.basespace.illumina.com/v2/datasets/ds.ac82a306af3847f2b53ecb695bc22400/files",
    "Name": "Myeloid-RNA-Brain-Rep1_L001",
    "DateCreated": "2018-07-19T23:50:10.0000000Z",
    "DateModified": "2018-07-24T19:45:08.0000000Z",
    "AppSession": {"Id": "110644538", "ExecutionStatus": "Complete"},
    "Project": {
        "Id": "86591915",
        "Href": "https://api.basespace.illumina.com/v2/projects/86591915",
        "Name": "p",
    },
    "TotalSize": 99461045,
    "IsArchived": False,
    "DatasetType": {
        "Id": "illumina.fastq.v1.8",
        "Name": "Illumina Fastq",
        "ConformsToIds": ["common.files", "common.fastq"],
    },
    "Attributes": {"common_fastq": {"IsPairedEnd": True, "TotalReadsPF": 1688304}},
    "QcStatus": "Undefined",
    "UploadStatus": "Completed",
    "ValidationStatus": "Passed",
}

BIOSAMPLE_ITEM = {
    "Id": "104555093",
    "Href": "https://api.basespace.illumina.com/v2/biosamples/104555093",
    "UserOwnedBy": COMPACT_USER,
    "BioSampleName": "Myeloid-RNA-Brain-Rep1",
    "DefaultProject": {"Id": "86591915", "Href": "v1pre3/projects/86591915"},
    "DateModified": "2018-08-03T02:42:13.0000000Z",
    "DateCreated": "2018-07-18T18:49:07.0000000Z",
    "Status": "New",
    "LabStatus": "Sequencing",
}

APPSESSION_V2 = {
    "Id": "629024454",
    "Name": "BaseSpace CLI 2022-11-13 14:35:21Z",
    "Href": "https://api.basespace.illumina.com/v2/appsessions/629024454",
    "Application": {"Id": "1375375", "Href": "v1pre3/applications/1375375"},
    "ExecutionStatus": "Complete",
    "QcStatus": "Undefined",
    "Purpose": "AppUpload",
    "DateCreated": "2022-11-13T14:35:21.0000000Z",
    "DateModified": "2022-11-13T14:40:00.0000000Z",
    "TotalSize": 111256717,
    "DeliveryStatus": "None",
}


def test_project_list_item() -> None:
    p = Project.from_json(PROJECT_LIST_ITEM)
    assert p.id == "48078043" and p.kind == "projects"
    assert p.name == "HiSeqX: Nextera DNA Flex (...)"
    assert p.description == "demo data"
    assert p.total_size == 3613767739481
    assert p.href == "v1pre3/projects/48078043"
    assert p.date_created == datetime(2017, 9, 21, 19, 19, 28, tzinfo=UTC)
    assert p.date_modified is not None and p.date_modified.tzinfo is not None
    assert p.raw["HasCollaborators"] is True  # unknown fields kept


def test_sample_and_appresult() -> None:
    s = Sample.from_json(SAMPLE_ITEM)
    assert (s.id, s.name, s.status, s.experiment_name) == (
        "155127035",
        "Myeloid-RNA-SeraSeq-Rep1",
        "Complete",
        "Myeloid RNA Panel",
    )
    assert s.date_modified is None
    assert s.raw["Genome"]["Build"] == "hg19"
    a = AppResult.from_json(APPRESULT_ITEM)
    assert a.appsession_id == "111537916" and a.status == "Complete"
    assert AppResult.from_json({"Id": "1"}).appsession_id is None


def test_file_list_item_and_single() -> None:
    f = FileInfo.from_json(FILE_LIST_ITEM)
    assert f.size == 48526491 and f.etag == "3a1f3ea201911c15cf166a58ecc783d0-6"
    assert f.upload_status == "complete" and f.is_complete  # list items omit UploadStatus
    assert f.href_content.endswith("/v2/files/11710715826/content")
    assert f.content_type == "application/x-gzip"
    assert f.version() == FileVersion("11710715826", 48526491, "3a1f3ea201911c15cf166a58ecc783d0-6")
    assert f.version().md5 is None
    g = FileInfo.from_json(FILE_SINGLE)
    assert g.version().md5 == "0409bb071afb31113d8524fda7a3d661"
    assert g.path == "X.SeraSeq_S23.fusions.csv" and g.raw["ParentAppResult"]["Id"] == "137677550"
    pending = FileInfo.from_json({**FILE_SINGLE, "UploadStatus": "pending"})
    assert not pending.is_complete and pending.upload_status == "pending"
    nested = FileInfo.from_json({"Id": "9", "Name": "huge.bin", "Path": "big/huge.bin"})
    assert nested.path == "big/huge.bin" and nested.name == "huge.bin"
    assert FileInfo.from_json({"Id": "9", "Name": "x"}).path == "x"


def test_v2_entities() -> None:
    d = Dataset.from_json(DATASET_ITEM)
    assert d.id.startswith("ds.") and d.project_id == "86591915"
    assert d.dataset_type == "illumina.fastq.v1.8"
    assert d.raw["Attributes"]["common_fastq"]["IsPairedEnd"] is True
    b = BioSample.from_json(BIOSAMPLE_ITEM)
    assert b.name == "Myeloid-RNA-Brain-Rep1" and b.status == "New"
    s = AppSession.from_json(APPSESSION_V2)
    assert s.status == "Complete" and s.date_modified is not None
    v1 = AppSession.from_json(
        {"Id": "1", "Status": "Aborted", "ModifiedOn": "2020-01-01T00:00:00.0000000Z"}
    )
    assert v1.status == "Aborted" and v1.date_modified == datetime(2020, 1, 1, tzinfo=UTC)


def test_user_run_genome() -> None:
    u = User.from_json({**COMPACT_USER, "Email": "a@b.c"})
    assert u.email == "a@b.c" and u.date_created is None  # the null date
    r = Run.from_json(
        {
            "Id": "1",
            "Name": "180718_M04074_0242_000000000-BRGPG",
            "ExperimentName": "exp",
            "Status": "Complete",
            "TotalSize": 5,
        }
    )
    assert r.name.startswith("180718_") and r.total_size == 5 and r.experiment_name == "exp"
    g = Genome.from_json(
        {
            "Id": "4",
            "DisplayName": "Homo sapiens - UCSC (hg19)",
            "SpeciesName": "Homo sapiens",
            "Build": "hg19",
        }
    )
    assert (g.name, g.build, g.species) == ("Homo sapiens - UCSC (hg19)", "hg19", "Homo sapiens")


def test_parse_entity_by_kind() -> None:
    assert isinstance(parse_entity("datasets", DATASET_ITEM), Dataset)
    assert isinstance(parse_entity("files", FILE_SINGLE), FileInfo)
    plain = parse_entity("libraries", {"Id": "5", "Name": "lib"})
    assert type(plain) is Entity and plain.name == "lib"
    assert [p.id for p in parse_list(Project, [PROJECT_LIST_ITEM, "junk", None, 3])] == ["48078043"]


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"Id": None, "Name": None, "Size": None},
        {"Id": 123, "Name": 456, "DateCreated": "not a date", "Size": "12x"},
        {"Size": -5, "ETag": 7, "TotalSize": -1},
        {"Size": 10**30, "DateModified": 12345},
        {"Size": float("nan"), "Name": ["a"], "Path": {"x": 1}},
        {"Size": True, "UploadStatus": None},
    ],
)
def test_hostile_input_never_crashes(obj: dict[str, Any]) -> None:
    for kind in (
        "projects",
        "samples",
        "appresults",
        "runs",
        "appsessions",
        "biosamples",
        "datasets",
        "genomes",
        "users",
    ):
        parse_entity(kind, obj)
    f = FileInfo.from_json(obj)
    assert 0 <= f.size <= MAX_SIZE
    assert isinstance(f.name, str) and isinstance(f.id, str)
    assert f.date_created is None or f.date_created.tzinfo is not None


def test_non_mapping_input() -> None:
    for junk in (None, "<html>", 3, ["a"]):
        f = FileInfo.from_json(junk)
        assert (f.id, f.name, f.size, f.date_created) == ("", "", 0, None)


def test_scalar_helpers() -> None:
    assert parse_size(-3) == 0 and parse_size(10**40) == MAX_SIZE and parse_size("42") == 42
    assert parse_size(None) is None and parse_size(True) is None and parse_size(2.5) == 2
    assert parse_date("2025-05-28T08:00:47.6095590Z") == datetime(
        2025, 5, 28, 8, 0, 47, 609559, tzinfo=UTC
    )
    assert parse_date("0001-01-01T00:00:00.0000000Z") is None
    assert parse_date("2020-01-01T00:00:00") == datetime(2020, 1, 1, tzinfo=UTC)
    assert parse_date("garbage") is None and parse_date(None) is None
    assert unquote_etag('"abc"') == "abc" and unquote_etag('W/"x-2"') == "x-2"
    assert unquote_etag('""') is None and unquote_etag(None) is None


def test_entities_are_frozen_and_hashable() -> None:
    p = Project.from_json(PROJECT_LIST_ITEM)
    with pytest.raises(AttributeError):
        p.name = "x"  # type: ignore[misc]
    assert p == Project.from_json(PROJECT_LIST_ITEM)
    assert len({p, Project.from_json(PROJECT_LIST_ITEM)}) == 1


# --- properties ---------------------------------------------------------------------------------

RUN_COMPACT = {"Id": "42", "Href": "v1pre3/runs/42", "Name": "180718_M04074_0242_000000000-BRGPG"}


def test_property_string_and_string_array_v1() -> None:
    p = parse_property(
        {
            "Type": "string",
            "Href": "v1pre3/samples/1/properties/PerLaneAttributes.L1_TotalClustersPF",
            "Name": "PerLaneAttributes.L1_TotalClustersPF",
            "Description": "",
            "Content": "1390368",
        }
    )
    assert (p.type, p.value, p.name) == (
        "string",
        "1390368",
        "PerLaneAttributes.L1_TotalClustersPF",
    )
    a = parse_property({"Type": "string[]", "Name": "myapp.colors", "Items": ["red", "green"]})
    assert a.value == ["red", "green"]


def test_property_references_v1() -> None:
    single = parse_property(
        {"Type": "project", "Name": "Input.project-id", "Content": {"Id": "7", "Name": "P"}}
    )
    assert single.value == {"type": "project", "id": "7", "name": "P", "href": ""}
    runs = parse_property(
        {
            "Type": "run[]",
            "Name": "Input.Runs",
            "Items": [RUN_COMPACT],
            "HrefItems": "v1pre3/samples/1/properties/Input.Runs/items",
            "ItemsDisplayedCount": 1,
            "ItemsTotalCount": 3,
        }
    )
    assert runs.value == [
        {"type": "run", "id": "42", "name": RUN_COMPACT["Name"], "href": "v1pre3/runs/42"}
    ]
    assert runs.items_total == 3
    by_href = parse_property({"Type": "appresult[]", "Name": "x", "Items": ["appresults/3006"]})
    assert by_href.value[0]["id"] == "3006"


def test_property_v2_typed_keys_and_maps() -> None:
    runs = parse_property({"Type": "run[]", "Name": "Input.Runs", "RunItems": [RUN_COMPACT]})
    assert runs.value[0]["id"] == "42" and runs.value[0]["type"] == "run"
    libs = parse_property(
        {
            "Type": "library[]",
            "Name": "Input.Libraries",
            "SampleLibraryItems": [{"Id": "9", "Name": "L"}],
        }
    )
    assert libs.value == [{"type": "library", "id": "9", "name": "L", "href": ""}]
    strings = parse_property({"Type": "string[]", "Name": "s", "ContentItems": ["a", 1]})
    assert strings.value == ["a", "1"]
    single = parse_property({"Type": "run", "Name": "r", "Run": RUN_COMPACT})
    assert single.value["id"] == "42"
    m = parse_property(
        {
            "Type": "map",
            "Name": "BaseSpace.Metrics.FastQ",
            "ContentMap": [{"Key": "LaneNumber", "Values": ["1"]}],
        }
    )
    assert m.value == {"LaneNumber": ["1"]}
    mm = parse_property(
        {"Type": "map[]", "Name": "x", "ItemsMap": [[{"Key": "k", "Values": ["v"]}]]}
    )
    assert mm.value == [{"k": ["v"]}]


def test_property_hostile() -> None:
    for junk in (
        None,
        {},
        {"Type": 5},
        {"Type": "run[]", "Items": "x"},
        {"Type": "string[]", "Items": None},
        {"Type": "sample", "Content": 3},
    ):
        p = parse_property(junk)
        assert isinstance(p.name, str)
    # an unknown single type with an object is read as a reference; no type at all keeps Content
    assert parse_property({"Type": "weird", "Content": {"Id": "1"}}).value["type"] == "weird"
    assert parse_property({"Content": {"a": 1}}).value == {"a": 1}
    assert parse_property({"Type": "sample", "Content": 3}).value is None


def test_property_from_items() -> None:
    runs = parse_property(
        {"Type": "run[]", "Name": "Input.Runs", "Items": [RUN_COMPACT], "ItemsTotalCount": 2}
    )
    full = property_from_items(
        runs, [{"Id": "a", "Content": RUN_COMPACT}, {"Id": "b", "Content": {"Id": "43"}}]
    )
    assert [v["id"] for v in full.value] == ["42", "43"]
    strings = parse_property({"Type": "string[]", "Name": "s", "Items": ["a"]})
    assert property_from_items(strings, [{"Content": "a"}, {"Content": "b"}]).value == ["a", "b"]


def test_content_url() -> None:
    obj = {
        "Expires": "2025-05-28T08:00:47.6095590Z",
        "HrefContent": "https://bucket.s3.amazonaws.com/k/f?AWSAccessKeyId=AKIA&Expires=1748419368&Signature=abc",
        "SupportsRange": True,
    }
    url = parse_content_url(obj)
    assert url is not None and url.supports_range and url.expires.year == 2025
    no_exp = parse_content_url({"HrefContent": obj["HrefContent"]})
    assert no_exp is not None and no_exp.expires == datetime.fromtimestamp(1748419368, UTC)
    assert parse_content_url({}) is None and parse_content_url("junk") is None


def test_content_url_expiry_from_a_sigv4_query() -> None:
    href = (
        "https://bucket.s3.amazonaws.com/k/f?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Date=20251123T101500Z&X-Amz-Expires=3600&X-Amz-Signature=abc"
    )
    url = parse_content_url({"HrefContent": href})
    assert url is not None and url.expires == datetime(2025, 11, 23, 11, 15, tzinfo=UTC)
    odd = parse_content_url({"HrefContent": href.replace("20251123T101500Z", "yesterday")})
    now = datetime(2026, 1, 1, tzinfo=UTC)
    odd = parse_content_url({"HrefContent": odd.url if odd else ""}, now=now)
    assert odd is not None and odd.expires == datetime(2026, 1, 1, 0, 10, tzinfo=UTC)


def test_signed_content_urls_are_told_from_api_routes() -> None:
    assert is_signed_content_url("https://b.s3.amazonaws.com/k/f?Signature=x", "7")
    assert not is_signed_content_url("https://api.basespace.illumina.com/v2/files/7/content", "7")
    assert not is_signed_content_url("v1pre3/files/7/content", "7")
