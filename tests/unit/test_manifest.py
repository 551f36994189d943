"""The biosample manifest checks of :mod:`bsmount.controls.manifest` (``BioSamples/.import``):
its sections, column names, every row rule, and that a refused file names each bad row."""

from __future__ import annotations

import pytest

from bsmount.controls.manifest import (
    MANIFEST_TEMPLATE,
    MAX_ROWS,
    ManifestError,
    NewBioSample,
    check_manifest,
    name_problem,
)

PROJECTS = {"Alpha": "100", "100": "100", "Beta, 2x151": "200", "200": "200", "Twin": ""}
EXISTING = {"100": {"na12878"}}


def check(text: str, **kwargs: str | None) -> list[NewBioSample]:
    return check_manifest(text, PROJECTS, EXISTING, **kwargs)  # type: ignore[arg-type]


def problems(text: str, **kwargs: str | None) -> list[tuple[int, str]]:
    with pytest.raises(ManifestError) as info:
        check(text, **kwargs)
    return info.value.problems


def test_sections_quotes_aliases_and_wells() -> None:
    text = (
        "\ufeff[Header],,,\nFileVersion,1,,\n[Data],,,\n"
        "biosample name, DEFAULT  PROJECT ,Sample Plate,Well,Prep Request\n"
        "S-1,Alpha,P1,a1,\n"
        "\n"
        'S_2,"Beta, 2x151",P1,H12,\n'
        "S-3,200,,,\n"
    ).lstrip("\ufeff")
    assert check(text) == [
        NewBioSample(5, "S-1", "100", "P1", "A01"),
        NewBioSample(7, "S_2", "200", "P1", "H12"),
        NewBioSample(8, "S-3", "200", "", ""),
    ]


def test_the_template_is_an_empty_manifest() -> None:
    assert problems(MANIFEST_TEMPLATE) == [(0, "the manifest has no rows")]
    assert check(MANIFEST_TEMPLATE + "X1,Alpha,,\n") == [NewBioSample(5, "X1", "100", "", "")]


def test_every_bad_row_is_named_by_its_line() -> None:
    text = (
        "BioSample Name,Default Project,Container Name,Container Position,Analysis Workflow\n"
        "ok-1,Alpha,P,A01,\n"  # 2
        "OK-1,Alpha,,,\n"  # 3: same name, any case
        "na12878,Alpha,,,\n"  # 4: the project has it
        "x,Nowhere,,,\n"  # 5
        "y,Twin,,,\n"  # 6: ambiguous project name
        "z,Alpha,,B01,\n"  # 7: no container
        "w,Alpha,P,Q01,\n"  # 8: not a well
        "v,Alpha,P,A1,\n"  # 9: P A01 is line 2's
        "u,Alpha,,,DRAGEN\n"  # 10: unsupported column filled
        "bad name,Alpha,,,\n"  # 11
        ",Alpha,,,\n"  # 12
        "t,,,,\n"  # 13
        "s,Alpha,,,,extra\n"  # 14
    )
    found = problems(text)
    lines = {n for n, _ in found}
    assert lines == set(range(3, 15))
    text_of = dict(found)
    assert "'OK-1' is also on line 2" in text_of[3]
    assert "already has a biosample 'na12878'" in text_of[4]
    assert "no project 'Nowhere'" in text_of[5]
    assert "several projects are named 'Twin'" in text_of[6]
    assert "needs a Container Name" in text_of[7]
    assert "'Q01' is not a well" in text_of[8]
    assert "P A01 is also on line 2" in text_of[9]
    assert "'Analysis Workflow' is not supported" in text_of[10]
    assert "use 1-99 letters" in text_of[11]
    assert text_of[12] == "BioSample Name is empty"
    assert text_of[13] == "Default Project is empty"
    assert "6 cells for 5 columns" in text_of[14]
    with pytest.raises(ManifestError) as info:
        check(text)
    assert str(info.value).startswith("manifest refused, nothing created: 12 of 13 rows invalid\n")


def test_header_problems_refuse_the_file() -> None:
    known = "(known: BioSample Name, Default Project, Container Name, Container Position)"
    assert problems("Name,Project\nx,Alpha\n") == [
        (1, f"unknown column 'Name' {known}"),
        (1, f"unknown column 'Project' {known}"),
        (1, "no 'BioSample Name' column"),
        (1, "no 'Default Project' column"),
    ]
    assert problems("") == [(0, "the manifest has no header row")]


def test_a_project_directory_fills_the_default_project() -> None:
    assert check("BioSample Name\nn1\n", default_project="200") == [
        NewBioSample(2, "n1", "200", "", "")
    ]
    rows = check("BioSample Name,Default Project\nn2,\nn3,Alpha\n", default_project="200")
    assert [(r.name, r.project_id) for r in rows] == [("n2", "200"), ("n3", "100")]
    # the same name in two projects is fine; twice in one is not
    assert len(check("BioSample Name,Default Project\nm,Alpha\nm,200\n")) == 2


def test_at_most_max_rows() -> None:
    rows = "".join(f"r{i},Alpha\n" for i in range(MAX_ROWS + 1))
    assert problems("BioSample Name,Default Project\n" + rows) == [
        (0, f"{MAX_ROWS + 1} rows: at most {MAX_ROWS} per import")
    ]
    assert len(check("BioSample Name,Default Project\n" + rows.split("\n", 1)[1])) == MAX_ROWS


def test_name_rule() -> None:
    assert name_problem("NA12878-2_b") is None
    assert name_problem("a" * 99) is None
    for bad in ("", "a" * 100, "with space", "ünï", "a/b", ".hidden"):
        assert name_problem(bad) is not None, bad
