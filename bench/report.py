"""Results: medians of the runs, the printed table, and the JSON file."""

from __future__ import annotations

import json
import platform
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from bench.compare import Rounds
from bench.compare import table as compare_table
from bench.compare import to_json as compare_json
from bench.drive import Sample


@dataclass
class Series:
    """Repeated runs of one workload against one target."""

    samples: list[Sample] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(s.rps for s in self.samples) if self.samples else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(s.p50_ms for s in self.samples) if self.samples else 0.0

    @property
    def p99(self) -> float:
        return statistics.median(s.p99_ms for s in self.samples) if self.samples else 0.0

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.samples)

    def to_json(self) -> dict[str, Any]:
        return {
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50, 2),
            "p99_ms": round(self.p99, 2),
            "errors": self.errors,
            "runs": [{**asdict(s), "rps": round(s.rps, 1)} for s in self.samples],
        }


@dataclass
class Row:
    workload: str
    title: str
    gateway: Series = field(default_factory=Series)
    raw: Series = field(default_factory=Series)
    postgraphile: Series | None = None
    """PostGraphile's generated schema, when measured."""
    postgraphile_functions: Series | None = None
    """PostGraphile with one SQL function per read, when measured."""
    bare: Series | None = None
    """The stack's floor (``bench.bare``), when measured."""
    checked: int = 0
    graphql_errors: int = 0
    statements: dict[int, int] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.gateway.rps / self.raw.rps if self.raw.rps else 0.0


@dataclass
class CurvePoint:
    workspaces: int
    series: Series
    rows_per_request: int
    statements: dict[int, int]
    transactions: dict[int, int]
    outside_rls: dict[int, int]


@dataclass
class Report:
    scale: str
    settings: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    curve: list[CurvePoint] = field(default_factory=list)
    rss_kb: dict[str, Any] = field(default_factory=dict)
    seed_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    comparison: list[Rounds] = field(default_factory=list)
    """Alternated rounds of several targets (``bench.compare``), when measured so."""

    def table(self) -> str:
        if self.comparison and not self.rows:
            return compare_table(self.comparison, list(self.comparison[0].runs))
        pg = any(r.postgraphile is not None for r in self.rows)
        floor = any(r.bare is not None for r in self.rows)
        head = "| workload | req/s | p50 ms | p99 ms | raw req/s | ratio |"
        rule = "|---|---:|---:|---:|---:|---:|"
        if floor:
            head += " bare ASGI req/s |"
            rule += "---:|"
        if pg:
            head += " PostGraphile generated req/s | PG functions req/s | ÷ faster PG |"
            rule += "---:|---:|---:|"
        head += " checked | errors |"
        rule += "---:|---:|"
        lines = [head, rule]
        for r in self.rows:
            g = r.gateway
            line = (
                f"| {r.workload} | {g.rps:,.0f} | {g.p50:.1f} | {g.p99:.1f} | "
                f"{r.raw.rps:,.0f} | {r.ratio:.2f} |"
            )
            if floor:
                line += " – |" if r.bare is None else f" {r.bare.rps:,.0f} |"
            if pg:
                line += _postgraphile_cells(r)
            line += f" {r.checked} ok | {g.errors + r.graphql_errors} |"
            lines.append(line)
        if self.comparison:
            names = list(self.comparison[0].runs)
            lines += ["", "Alternated rounds (all targets up together):", ""]
            lines.append(compare_table(self.comparison, names))
        rss = self.rss_kb
        if rss:
            lines.append("")
            lines.append(
                f"Server RSS: start {rss['start'] / 1024:.0f} MiB, end {rss['end'] / 1024:.0f} "
                f"MiB, peak {rss['peak'] / 1024:.0f} MiB (after each run: "
                + ", ".join(f"{v / 1024:.0f}" for v in rss["after_each_run"])
                + " MiB)"
            )
        if self.curve:
            lines += [
                "",
                "| W4 workspaces/request | req/s | p50 ms | rows/request | p50 µs/row | "
                "SQL statements/request | of them outside RLS | RLS transactions/request |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|",
            ]
            for point in self.curve:
                s = point.series
                per_row = s.p50 * 1000 / point.rows_per_request if point.rows_per_request else 0
                lines.append(
                    f"| {point.workspaces} | {s.rps:,.0f} | {s.p50:.1f} | "
                    f"{point.rows_per_request} | {per_row:.0f} | {_mode(point.statements)} | "
                    f"{_mode(point.outside_rls)} | {_mode(point.transactions)} |"
                )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": _cpus(), "python": platform.python_version()},
            "scale": self.scale,
            "seed_seconds": round(self.seed_seconds, 1),
            "settings": self.settings,
            "workloads": [
                {
                    "workload": r.workload,
                    "title": r.title,
                    "gateway": r.gateway.to_json(),
                    "raw": r.raw.to_json(),
                    "ratio": round(r.ratio, 3),
                    "postgraphile": None if r.postgraphile is None else r.postgraphile.to_json(),
                    "postgraphile_functions": None
                    if r.postgraphile_functions is None
                    else r.postgraphile_functions.to_json(),
                    "bare": None if r.bare is None else r.bare.to_json(),
                    "checked": r.checked,
                    "graphql_errors": r.graphql_errors,
                    "sql_statements_per_request": r.statements,
                }
                for r in self.rows
            ],
            "w4_curve": [
                {
                    "workspaces": p.workspaces,
                    **p.series.to_json(),
                    "rows_per_request": p.rows_per_request,
                    "sql_statements_per_request": p.statements,
                    "sql_transactions_per_request": p.transactions,
                    "sql_statements_outside_rls_per_request": p.outside_rls,
                }
                for p in self.curve
            ],
            "alternated_rounds": compare_json(self.comparison),
            "rss_kb": self.rss_kb,
            "notes": self.notes,
            "table": self.table(),
        }

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = directory / f"bench-{stamp}.json"
        text = json.dumps(self.to_json(), indent=2)
        path.write_text(text + "\n", encoding="utf-8")
        (directory / "latest.json").write_text(text + "\n", encoding="utf-8")
        return path


def _mode(counts: dict[int, int]) -> str:
    """The most common value, with the range when requests differed."""
    if not counts:
        return "–"
    common = max(counts, key=lambda k: counts[k])
    low, high = min(counts), max(counts)
    return str(common) if low == high else f"{common} ({low}–{high})"


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


README_START: Final = "<!-- bench-table:start -->"
README_END: Final = "<!-- bench-table:end -->"


def update_readme(readme: Path, report: Report) -> None:
    """Replace the table between the README's bench-table markers with this run's."""
    text = readme.read_text(encoding="utf-8")
    head, found, rest = text.partition(README_START)
    _old, found_end, tail = rest.partition(README_END)
    if not found or not found_end:
        raise RuntimeError(f"{readme} has no {README_START} … {README_END} markers")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    run = report.settings
    block = (
        f"{README_START}\n{report.scale}, {run['connections']} connections, {run['runs']} × "
        f"{run['seconds']:g} s, {_processes(run['workers'])}, measured {stamp}:\n\n"
        f"{report.table()}\n"
    )
    if report.notes:
        block += "\n" + "\n".join(f"- {n}" for n in report.notes) + "\n"
    readme.write_text(head + block + README_END + tail, encoding="utf-8")


def _processes(workers: int) -> str:
    return "1 gateway process" if workers == 1 else f"{workers} gateway processes"


def _postgraphile_cells(row: Row) -> str:
    """PostGraphile's two forms and the gateway's ratio to the faster, for one table row."""
    forms = [s for s in (row.postgraphile, row.postgraphile_functions) if s is not None]
    if not forms:
        return " – | – | – |"
    cells = ""
    for series in (row.postgraphile, row.postgraphile_functions):
        if series is None:
            cells += " – |"
        else:
            failed = f" ({series.errors:,} failed)" if series.errors else ""
            cells += f" {series.rps:,.0f}{failed} |"
    faster = max(s.rps for s in forms)
    return cells + (f" {row.gateway.rps / faster:.2f}× |" if faster else " – |")
