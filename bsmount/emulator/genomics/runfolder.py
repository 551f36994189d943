"""A MiSeq-like run folder for the demo run ``180718_M04074_0242_000000000-BRGPG``.

Owns the run folder's text files (RunInfo.xml, RunParameters.xml, an IEM v4 SampleSheet.csv with
CRLF line ends, RTAComplete.txt, Config/, Logs/, Recipe/) and its binary ones: BCL cycle files,
filter, control and locs files for tile 1101 (the flow cell has 28 tiles, but only one tile's
per-cycle files are written, to keep the tree a few hundred files), and the InterOp metrics in the
published Illumina binary layouts (see :mod:`bsmount.emulator.genomics.interop`).
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import random
import struct
from pathlib import Path

from bsmount.emulator.genomics.interop import CLUSTERS_PER_TILE, write_interop
from bsmount.emulator.genomics.reads import (
    FLOWCELL,
    INDEX_LENGTH,
    INSTRUMENT,
    READ_LENGTH,
    RUN_NUMBER,
)

log = logging.getLogger(__name__)

RUN_DATE = "180718"
RUN_NAME = f"{RUN_DATE}_{INSTRUMENT}_{RUN_NUMBER:04d}_{FLOWCELL}"
#: (read number, cycles, is index read) as in RunInfo.xml.
READS: tuple[tuple[int, int, bool], ...] = (
    (1, READ_LENGTH, False),
    (2, INDEX_LENGTH, True),
    (3, READ_LENGTH, False),
)
TOTAL_CYCLES = sum(cycles for _, cycles, _ in READS)
BCL_TILE = 1101
EXPERIMENT = "Myeloid DNA panel run 242"

SheetSample = tuple[str, str, str]  # (Sample_ID, Sample_Name, index)


def _run_info() -> str:
    reads = "\n".join(
        f'      <Read Number="{n}" NumCycles="{c}" IsIndexedRead="{"Y" if idx else "N"}" />'
        for n, c, idx in READS
    )
    return f"""<?xml version="1.0"?>
<RunInfo xmlns:xsd="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Version="2">
  <Run Id="{RUN_NAME}" Number="{RUN_NUMBER}">
    <Flowcell>{FLOWCELL}</Flowcell>
    <Instrument>{INSTRUMENT}</Instrument>
    <Date>{RUN_DATE}</Date>
    <Reads>
{reads}
    </Reads>
    <FlowcellLayout LaneCount="1" SurfaceCount="2" SwathCount="1" TileCount="14" />
  </Run>
</RunInfo>
"""


def _run_parameters() -> str:
    reads = "\n".join(
        f'    <RunInfoRead Number="{n}" NumCycles="{c}" IsIndexedRead="{"Y" if idx else "N"}" />'
        for n, c, idx in READS
    )
    return f"""<?xml version="1.0"?>
<RunParameters xmlns:xsd="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <EnableCloudProcessing>true</EnableCloudProcessing>
  <RunParametersVersion>MiSeq_1_1</RunParametersVersion>
  <CopyManifests>true</CopyManifests>
  <FlowcellRFIDTag>
    <SerialNumber>{FLOWCELL}</SerialNumber>
    <PartNumber>15028382</PartNumber>
    <ExpirationDate>2019-02-11T00:00:00</ExpirationDate>
  </FlowcellRFIDTag>
  <PR2BottleRFIDTag>
    <SerialNumber>MS6433035-00PR2</SerialNumber>
    <PartNumber>15041807</PartNumber>
    <ExpirationDate>2019-05-04T00:00:00</ExpirationDate>
  </PR2BottleRFIDTag>
  <ReagentKitRFIDTag>
    <SerialNumber>MS6500318-300V2</SerialNumber>
    <PartNumber>15033572</PartNumber>
    <ExpirationDate>2019-04-30T00:00:00</ExpirationDate>
  </ReagentKitRFIDTag>
  <Setup>
    <SupportMultipleSurfacesInUI>true</SupportMultipleSurfacesInUI>
    <ApplicationVersion>2.6.2.1</ApplicationVersion>
    <ApplicationName>MiSeq Control Software</ApplicationName>
    <NumTilesPerSwath>14</NumTilesPerSwath>
    <NumSwaths>1</NumSwaths>
    <NumLanes>1</NumLanes>
    <FirmwareVersionFPGA>9.5.12</FirmwareVersionFPGA>
  </Setup>
  <RunID>{RUN_NAME}</RunID>
  <ScannerID>{INSTRUMENT}</ScannerID>
  <RunNumber>{RUN_NUMBER}</RunNumber>
  <FPGAVersion>9.5.12</FPGAVersion>
  <MCSVersion>2.6.2.1</MCSVersion>
  <RTAVersion>1.18.54</RTAVersion>
  <Barcode>{FLOWCELL}</Barcode>
  <ExperimentName>{EXPERIMENT}</ExperimentName>
  <Chemistry>Amplicon</Chemistry>
  <Username>sbsuser</Username>
  <Workflow>
    <Analysis>GenerateFASTQ</Analysis>
  </Workflow>
  <EnableAnalysis>false</EnableAnalysis>
  <Reads>
{reads}
  </Reads>
  <RunStartDate>{RUN_DATE}</RunStartDate>
  <MostRecentWashType>PostRun</MostRecentWashType>
  <RecipeFolder>D:\\Illumina\\MiSeq Control Software\\CustomRecipe</RecipeFolder>
  <SampleSheetName>{RUN_NAME}</SampleSheetName>
  <OutputFolder>D:\\Illumina\\MiSeqOutput\\{RUN_NAME}</OutputFolder>
</RunParameters>
"""


def _sample_sheet(samples: list[SheetSample]) -> str:
    width = 8
    rows: list[list[str]] = [
        ["[Header]"],
        ["IEMFileVersion", "4"],
        ["Investigator Name", "M. Dupont"],
        ["Experiment Name", EXPERIMENT],
        ["Date", "7/18/2018"],
        ["Workflow", "GenerateFASTQ"],
        ["Application", "FASTQ Only"],
        ["Assay", "TruSeq DNA PCR-Free"],
        ["Description", "bsmount demo run"],
        ["Chemistry", "Default"],
        [],
        ["[Reads]"],
        [str(READ_LENGTH)],
        [str(READ_LENGTH)],
        [],
        ["[Settings]"],
        ["Adapter", "AGATCGGAAGAGCACACGTCTGAACTCCAGTCA"],
        ["AdapterRead2", "AGATCGGAAGAGCGTCGTGTAGGGAAAGAGTGT"],
        [],
        ["[Data]"],
        [
            "Sample_ID",
            "Sample_Name",
            "Sample_Plate",
            "Sample_Well",
            "I7_Index_ID",
            "index",
            "Sample_Project",
            "Description",
        ],
    ]
    for i, (sample_id, name, index) in enumerate(samples):
        well = f"{'ABCDEFGH'[i % 8]}{i // 8 + 1:02d}"
        rows.append([sample_id, name, "Plate1", well, f"A{i + 1:03d}", index, "MyeloidDNA", ""])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:  # IEM pads every row with commas to the width of the [Data] table
        writer.writerow(row + [""] * (width - len(row)))
    return out.getvalue()


def _text_files(samples: list[SheetSample]) -> dict[str, str]:
    files = {
        "RunInfo.xml": _run_info(),
        "RunParameters.xml": _run_parameters(),
        "SampleSheet.csv": _sample_sheet(samples),
        "RTAComplete.txt": "7/19/2018,02:14:43.123,Illumina RTA 1.18.54\r\n",
        "Config/Effective.cfg": (
            "[Tiles]\nNumTilesPerSwath=14\nNumSwaths=1\nNumSurfaces=2\n"
            "[RTA]\nVersion=1.18.54\nCopyImages=false\n"
        ),
        "Config/MiSeqOverride.cfg": "[RTA]\nBaseCallingDelay=0\nWriteCompressedBcl=true\n",
        "Config/RTAStart.bat": f"RTA.exe /run D:\\Illumina\\MiSeqOutput\\{RUN_NAME}\r\n",
        "Recipe/000000000-BRGPG.xml": (
            f'<?xml version="1.0"?>\n<Recipe Version="MiSeq" Flowcell="{FLOWCELL}">\n'
            f'  <Reads><Read Cycles="{READ_LENGTH}"/><Read Cycles="{INDEX_LENGTH}" Index="true"/>'
            f'<Read Cycles="{READ_LENGTH}"/></Reads>\n</Recipe>\n'
        ),
        "Data/Intensities/RTAConfiguration.xml": (
            '<?xml version="1.0"?>\n<RTAConfiguration>\n  <RunInfoFileName>'
            f"{RUN_NAME}\\RunInfo.xml</RunInfoFileName>\n  <NumTiles>28</NumTiles>\n"
            "</RTAConfiguration>\n"
        ),
    }
    times: list[str] = []
    for cycle in range(1, TOTAL_CYCLES + 1):
        minute = 9 * 60 + 41 + (cycle * 5) // 2
        stamp = f"{minute // 60 % 24:02d}:{minute % 60:02d}:{(cycle * 37) % 60:02d}.{cycle:03d}"
        times.append(f"7/18/2018\t{stamp}\t{cycle}\tA\tImaging\r\n")
    files["Logs/CycleTimes.txt"] = "Date\tTime\tCycle\tColor\tState\r\n" + "".join(times)
    for cycle in (0, 1, 2, 3, 25, 50, 100, 151, 152, 158, 200, 250, TOTAL_CYCLES):
        files[f"Logs/{RUN_NAME}_Cycle{cycle}_Log.00.log"] = (
            f"07/18/2018 09:{41 + cycle % 18:02d}:00.000 Cycle {cycle}: imaging started\r\n"
            f"07/18/2018 09:{42 + cycle % 17:02d}:00.000 Cycle {cycle}: 28 tiles imaged\r\n"
        )
    return files


def _bcl(rng: random.Random, cycle: int) -> bytes:
    """One cycle's basecalls for the tile: count, then one byte per cluster (qual << 2 | base)."""
    # Quality falls along each read; ~0.5% no-calls (0 bytes) in the first cycles.
    decay = (cycle % (READ_LENGTH + INDEX_LENGTH)) / READ_LENGTH
    table = bytearray(256)
    for i in range(256):
        q = max(2, min(41, 38 - int(decay * 8) - (i % 23 if i % 7 == 0 else i % 3)))
        table[i] = 0 if (cycle <= 5 and i == 255) else (q << 2) | (i & 3)
    calls = rng.randbytes(CLUSTERS_PER_TILE).translate(bytes(table))
    return struct.pack("<I", CLUSTERS_PER_TILE) + calls


def _binary_files(rng: random.Random) -> dict[str, bytes]:
    n = CLUSTERS_PER_TILE
    base = "Data/Intensities/BaseCalls/L001"
    files: dict[str, bytes] = {}
    for cycle in range(1, TOTAL_CYCLES + 1):
        files[f"{base}/C{cycle}.1/s_1_{BCL_TILE}.bcl.gz"] = gzip.compress(
            _bcl(rng, cycle), compresslevel=6, mtime=0
        )
    passing = bytes(1 if b < 230 else 0 for b in rng.randbytes(n))  # ~90% pass filter
    files[f"{base}/s_1_{BCL_TILE}.filter"] = struct.pack("<III", 0, 3, n) + passing
    controls = struct.pack(f"<{n}H", *(0 if b < 250 else b & 3 for b in rng.randbytes(n)))
    files[f"{base}/s_1_{BCL_TILE}.control"] = struct.pack("<III", 0, 2, n) + controls
    coords = [rng.uniform(0.0, 2048.0) for _ in range(2 * n)]
    files[f"Data/Intensities/L001/s_1_{BCL_TILE}.locs"] = struct.pack(
        f"<IfI{2 * n}f", 1, 1.0, n, *coords
    )
    return files


def write_run_folder(root: Path, samples: list[SheetSample]) -> dict[str, Path]:
    """Write the run folder under ``root``; return run-folder relative path -> file."""
    rng = random.Random(180718)
    out: dict[str, Path] = {}

    def put(rel: str, data: bytes) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        out[rel] = path

    for rel, text in _text_files(samples).items():
        put(rel, text.encode("utf-8"))
    for rel, data in _binary_files(rng).items():
        put(rel, data)
    for rel, data in write_interop(random.Random(242), samples, READS).items():
        put(f"InterOp/{rel}", data)
    log.debug("wrote run folder %s: %d files", root, len(out))
    return dict(sorted(out.items()))
