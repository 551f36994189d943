"""The checks of a run folder's RunInfo.xml and RunParameters.xml (bsmount.upload.runfolder):
what RunInfo.xml must hold, and the instrument type told from each instrument family's files."""

from __future__ import annotations

import errno

import pytest

from bsmount.emulator.genomics import runfolder as demo_folder
from bsmount.errors import ControlError
from bsmount.upload.runfolder import (
    RunInfo,
    instrument_type,
    is_run_parameters,
    parse_run_info,
    parse_run_parameters,
)


def _info(instrument: str = "M00001") -> RunInfo:
    return RunInfo("240101_X_0001_FC", "FC", instrument, ((1, 151, False),))


def test_the_demo_run_folder_passes() -> None:
    files = demo_folder._text_files([("S1", "S1", "ACGT")])
    info = parse_run_info(files["RunInfo.xml"].encode())
    assert info.run_id == demo_folder.RUN_NAME and info.instrument == "M04074"
    assert info.reads == demo_folder.READS
    parameters = parse_run_parameters(files["RunParameters.xml"].encode())
    assert instrument_type(parameters, info) == "MiSeq"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"<RunInfo><Run Id='x'>", "not valid XML"),
        (b"<RunParameters/>", "not <RunInfo>"),
        (b"<RunInfo/>", "no <Run> element"),
        (b"<RunInfo><Run><Flowcell>F</Flowcell></Run></RunInfo>", "<Run> has no Id"),
        (b"<RunInfo><Run Id='r'><Instrument>M1</Instrument></Run></RunInfo>", "no <Flowcell>"),
        (
            b"<RunInfo><Run Id='r'><Flowcell>F</Flowcell><Instrument>M1</Instrument></Run>"
            b"</RunInfo>",
            "no <Reads>",
        ),
        (
            b"<RunInfo><Run Id='r'><Flowcell>F</Flowcell><Instrument>M1</Instrument><Reads>"
            b"<Read Number='1' NumCycles='0'/></Reads></Run></RunInfo>",
            "positive NumCycles",
        ),
    ],
)
def test_run_info_refusals(document: bytes, reason: str) -> None:
    with pytest.raises(ControlError) as refused:
        parse_run_info(document)
    assert refused.value.errno == errno.EINVAL and reason in str(refused.value)


@pytest.mark.parametrize(
    ("parameters", "instrument", "expected"),
    [
        (
            "<RunParameters><Setup><ApplicationName>NextSeq Control Software</ApplicationName>"
            "</Setup></RunParameters>",
            "NB501234",
            "NextSeq",
        ),
        (
            '<RunParameters xmlns="http://x"><InstrumentType>NovaSeqXPlus</InstrumentType>'
            "</RunParameters>",
            "LH00123",
            "NovaSeqXPlus",
        ),
        (
            "<RunParameters><Application>NovaSeq Control Software</Application></RunParameters>",
            "A00123",
            "NovaSeq6000",
        ),
        (
            "<RunParameters><Setup><ApplicationName>NextSeq 1000/2000 Control Software"
            "</ApplicationName></Setup></RunParameters>",
            "VH00123",
            "NextSeq2000",
        ),
        (
            "<RunParameters><Setup><ApplicationName>HiSeq Control Software</ApplicationName>"
            "</Setup></RunParameters>",
            "D00123",
            "HiSeq2500",
        ),
        (
            "<RunParameters><Setup><ApplicationName>HiSeq Control Software</ApplicationName>"
            "</Setup></RunParameters>",
            "K00123",
            "HiSeq4000",  # the software runs several models: the serial tells which
        ),
        ("<RunParameters/>", "FS10000123", "iSeq100"),  # nothing said: the serial tells
        ("<RunParameters/>", "MN00123", "MiniSeq"),
        ("<RunParameters/>", "K00123", "HiSeq4000"),
    ],
)
def test_instrument_types(parameters: str, instrument: str, expected: str) -> None:
    element = parse_run_parameters(parameters.encode())
    assert instrument_type(element, _info(instrument)) == expected


def test_an_instrument_of_no_known_series_is_refused() -> None:
    element = parse_run_parameters(
        b"<RunParameters><ApplicationName>Sanger</ApplicationName></RunParameters>"
    )
    with pytest.raises(ControlError) as refused:
        instrument_type(element, _info("Q0001"))
    assert refused.value.errno == errno.EINVAL
    assert "'Sanger'" in str(refused.value) and "'Q0001'" in str(refused.value)


def test_run_parameters_names() -> None:
    assert is_run_parameters("RunParameters.xml") and is_run_parameters("runParameters.xml")
    assert not is_run_parameters("Data/RunParameters.xml.bak")
