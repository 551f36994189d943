"""The markdown table of a benchmark run: one row per figure, ratios, targets and whether met.

Cells are ``median (min–max)`` over the runs. ``bsmount/rclone``, ``bsmount/curl`` and
``bsmount/ceiling`` divide the medians as they are, so for times (s, ms, µs) a ratio below 1
means bsmount is faster. The targets are the bars of issue 16 (reads, 1-8) and issue 12
(uploads, 9-11); ``met?`` is ``yes``, ``NO``, or ``–`` when a row has none. :func:`header`
says how the run was made (mode, runs, page cache dropped or not, the memory warm-up).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.common import MIB
from bench.harness import SIDES as _SIDES
from bench.harness import Bench, Figure

__all__ = ["header", "profile_text", "rows_json", "table"]

Check = Callable[["Cells"], bool | None]


@dataclass
class Cells:
    bench: Bench
    key: str

    def med(self, side: str, key: str | None = None) -> float | None:
        fig = self.bench.results.get(key or self.key, side)
        return fig.median if fig is not None else None

    def ratio(self, a: str, b: str, key_b: str | None = None) -> float | None:
        x, y = self.med(a), self.med(b, key_b)
        if x is None or y is None or y == 0:
            return None
        return x / y


def _both(*values: bool | None) -> bool | None:
    if any(v is None for v in values):
        return None
    return all(values)


def _at_least(value: float | None, bar: float) -> bool | None:
    return None if value is None else value >= bar


def _at_most(value: float | None, bar: float) -> bool | None:
    return None if value is None else value <= bar


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    target: str = "–"
    met: Check | None = None


def _limit_ratio(c: Cells) -> float | None:
    """bsmount / min(curl, ceiling): against the slower of the two limits."""
    limits = [v for v in (c.med("curl"), c.med("ceiling")) if v is not None]
    mine = c.med("bsmount")
    if mine is None or not limits or min(limits) == 0:
        return None
    return mine / min(limits)


def _seq_met(c: Cells) -> bool | None:
    return _both(_at_least(c.ratio("bsmount", "rclone"), 2.0), _at_least(_limit_ratio(c), 0.6))


_SEQ = "≥2× rclone, ≥0.6× min(curl, ceiling)"


def _rows(bench: Bench) -> list[Row]:
    s = bench.sizes
    big, par = s.big // MIB, s.par // MIB
    from bench.data import tree_entries

    return [
        Row("seq_dd", f"1 dd bs=1M of {big} MiB, cold (MB/s)", _SEQ, _seq_met),
        Row("seq_cat", f"1 cat of {big} MiB, cold (MB/s)", _SEQ, _seq_met),
        Row("rand_iops", "2 fio 4 KiB random reads (IOPS)", "≥3× rclone",
            lambda c: _at_least(c.ratio("bsmount", "rclone"), 3.0)),
        Row("rand_p50", "2 random read latency p50 (µs)"),
        Row("rand_p99", "2 random read latency p99 (µs)"),
        Row("par4", f"3 four readers of 4 × {par} MiB, aggregate (MB/s)", "≥1.5× one reader",
            lambda c: _at_least(c.ratio("bsmount", "bsmount", "par1"), 1.5)),
        Row("par1", f"3 one reader of {par} MiB (MB/s)"),
        Row("bam_time", "4 50 samtools view -c region queries (s)"),
        Row("bam_bytes", "4 bytes fetched by the queries (MB)", "≤4× what samtools reads",
            lambda c: _at_most(c.ratio("bsmount", "samtools"), 4.0)),
        Row("small", f"5 cp -r of {s.small_count} × {s.small_size >> 10} KiB (files/s)",
            "≥2× rclone", lambda c: _at_least(c.ratio("bsmount", "rclone"), 2.0)),
        Row("ls_cold", f"6 ls -l of {s.dir_entries:,} entries, cold (s)", "≤0.5 s",
            lambda c: _at_most(c.med("bsmount"), 0.5)),
        Row("ls_warm", f"6 ls -l of {s.dir_entries:,} entries, warm (s)", "≤0.1 s",
            lambda c: _at_most(c.med("bsmount"), 0.1)),
        Row("find_cold", f"6 find over {tree_entries(s):,} entries, cold (s)", "≤3 s",
            lambda c: _at_most(c.med("bsmount"), 3.0)),
        Row("ttfb", "7 first 4 KiB of an unopened file, median (ms)", "≤5 ms",
            lambda c: _at_most(c.med("bsmount"), 5.0)),
        Row("rss", "8 peak RSS over the read cases 1-7 (MiB)", "≤256 MiB",
            lambda c: _at_most(c.med("bsmount"), 256.0)),
        Row("up_big", f"9 cp of a {s.upload_big // MIB} MiB file into the mount (MB/s)",
            "≥0.6× curl's parts", lambda c: _at_least(c.ratio("bsmount", "curl"), 0.6)),
        Row("up_small", f"10 cp -r of {s.upload_small_count} × {s.upload_small_size >> 10} KiB "
            "into the mount (files/s)", "≥200 files/s",
            lambda c: _at_least(c.med("bsmount"), 200.0)),
        Row("up_rss", "11 peak RSS over cases 9-10 (MiB)", "≤256 MiB",
            lambda c: _at_most(c.med("bsmount"), 256.0)),
        Row("cache_seq", f"12 dd of {big} MiB after a remount, warm disk cache (MB/s)",
            "≥ rclone", lambda c: _at_least(c.ratio("bsmount", "rclone"), 1.0)),
        Row("cache_seq_bytes", "12 bytes fetched by that re-read (MB)", "0",
            lambda c: _at_most(c.med("bsmount"), 0.0)),
        Row("cache_bam", "13 the 50 queries of 4 after a remount, warm disk cache (s)"),
        Row("cache_bam_bytes", "13 bytes fetched by those queries (MB)", "0",
            lambda c: _at_most(c.med("bsmount"), 0.0)),
    ]  # fmt: skip


def _num(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _cell(fig: Figure | None) -> str:
    if fig is None:
        return "–"
    if fig.error:
        return f"error ({fig.error[:60]})"
    if not fig.values:
        return "–"
    med = _num(fig.median or 0.0)
    if len(fig.values) == 1:
        return med
    return f"{med} ({_num(min(fig.values))}–{_num(max(fig.values))})"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _met(value: bool | None, row: Row) -> str:
    if row.met is None:
        return "–"
    return "?" if value is None else ("yes" if value else "NO")


def _row_values(bench: Bench, row: Row) -> dict[str, Any]:
    cells = Cells(bench, row.key)
    figs = {side: bench.results.get(row.key, side) for side in _SIDES}
    met = row.met(cells) if row.met else None
    extra = ""
    if row.key == "bam_bytes":
        ref = bench.results.get("bam_bytes", "samtools")
        extra = f" ({_cell(ref)} MB)" if ref is not None else ""
    return {
        "key": row.key,
        "case": row.label,
        **{side: _cell(fig) for side, fig in figs.items()},
        "bsmount/rclone": _ratio(cells.ratio("bsmount", "rclone")),
        "bsmount/curl": _ratio(cells.ratio("bsmount", "curl")),
        "bsmount/ceiling": _ratio(cells.ratio("bsmount", "ceiling")),
        "target": row.target + extra,
        "met": _met(met, row),
    }


def header(bench: Bench, load: tuple[float, float]) -> str:
    """The line above the table: how the run was made, the memory warm-up included."""
    mode = "quick" if bench.quick else "full"
    cache = "page cache dropped" if bench.can_drop else "page cache NOT dropped (not root)"
    if bench.warmups:
        most, least = max(bench.warmups) / (1 << 30), min(bench.warmups) / (1 << 30)
        warmup = (f"memory warm-up ran before each of {len(bench.warmups)} cold runs "
                  f"({least:.1f}-{most:.1f} GiB touched and freed)")  # fmt: skip
    else:
        warmup = "NO memory warm-up"
    return (f"{mode} run, {bench.runs} run(s) per case, {cache}, {warmup}; "
            f"load average {load[0]:.1f} at the start, {load[1]:.1f} at the end")  # fmt: skip


def rows_json(bench: Bench) -> list[dict[str, Any]]:
    return [_row_values(bench, row) for row in _rows(bench)]


def table(bench: Bench) -> str:
    """The markdown table (and any error messages in full under it)."""
    keys = ["case", *_SIDES, "bsmount/rclone", "bsmount/curl", "bsmount/ceiling", "target", "met"]
    head = [*keys[:-1], "met?"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for values in rows_json(bench):
        lines.append("| " + " | ".join(values[k] for k in keys) + " |")
    errors = [
        f"- {case} / {side}: {fig.error}"
        for case, sides in bench.results.figures.items()
        for side, fig in sides.items()
        if fig.error
    ]
    if errors:
        lines += ["", "Errors:", *errors]
    return "\n".join(lines)


def profile_text(profile: dict[str, Any]) -> str:
    """A short summary of the py-spy profile of the sequential read."""
    if profile.get("error"):
        return f"py-spy profile: {profile['error']}"
    lines = [
        f"py-spy profile of {profile.get('what', 'one cold dd through')} bsmount:"
        f" {profile.get('mb_per_s_under_profiler')}"
        f" MB/s under the profiler, mount process CPU {profile.get('cpu_share')} cores,"
        f" {profile.get('samples')} busy samples (shares of them; {profile.get('idle_samples')}"
        f" idle ones left out: workers waiting for a job, the loop in epoll_wait)"
        f" ({profile.get('raw_file')})",
        "top self time:",
    ]
    lines += [f"  {pct:5.1f}%  {name}" for name, pct in profile.get("self_pct", [])[:12]]
    lines.append("top inclusive time:")
    lines += [f"  {pct:5.1f}%  {name}" for name, pct in profile.get("inclusive_pct", [])[:12]]
    return "\n".join(lines)
