"""Benchmark results: one JSON file per benchmark, and the README's table made from them.

Each result holds the raw figures (what was measured, product and baseline), the checks
(a ratio or a count against its aim) and the machine it ran on. These machines are shared
and noisy, so aims are ratios to a baseline measured in the same run, never absolute times.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

COMMITTED_RESULTS_DIR = Path(__file__).resolve().parent / "results"
# BENCH_RESULTS_DIR moves the results (the smoke test writes its own elsewhere, and so
# does a trial run); the README's table is only ever made from the committed ones.
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR") or COMMITTED_RESULTS_DIR)
README = Path(__file__).resolve().parents[1] / "README.md"
TABLE_START = "<!-- bench-table:start -->"
TABLE_END = "<!-- bench-table:end -->"


@dataclass(frozen=True)
class Check:
    """One figure against its aim: ``value <= limit`` (or ``>=`` when ``at_least``)."""

    name: str
    value: float
    limit: float
    at_least: bool = False
    unit: str = ""

    @property
    def met(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def aim(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.limit:g}{self.unit}"


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100), interpolated; the benchmarks' p50/p95/p99."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(p) - 1]


def summary(values: list[float]) -> dict[str, float]:
    """Seconds in, milliseconds out: count, p50, p95, p99, mean, max."""
    ms = [v * 1000 for v in values]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "max_ms": round(max(ms), 2),
    }


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def write_result(
    name: str,
    title: str,
    *,
    figures: dict[str, Any],
    checks: list[Check],
    notes: str = "",
) -> Path:
    """Writes ``bench/results/<name>.json`` and prints its checks; returns the path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    result = {
        "name": name,
        "title": title,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "figures": figures,
        "checks": [{**asdict(c), "aim": c.aim(), "met": c.met} for c in checks],
        "notes": notes,
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    for c in checks:
        mark = "ok  " if c.met else "MISS"
        print(f"  {mark} {c.name}: {c.value:g}{c.unit} (aim {c.aim()})", flush=True)
    return path


def table() -> str:
    """The Markdown table of every result on disk, one row per check."""
    rows = ["| benchmark | check | measured | aim | met |", "| --- | --- | --- | --- | --- |"]
    for path in sorted(RESULTS_DIR.glob("*.json")):
        result = json.loads(path.read_text())
        for check in result["checks"]:
            rows.append(
                f"| {result['title']} | {check['name']} | {check['value']:g}{check['unit']} "
                f"| {check['aim']} | {'yes' if check['met'] else '**no**'} |"
            )
    return "\n".join(rows)


def update_readme() -> bool:
    """Replaces the table between the README's markers; False when the markers are absent
    or the results went elsewhere (BENCH_RESULTS_DIR): those are not the published ones."""
    if RESULTS_DIR.resolve() != COMMITTED_RESULTS_DIR:
        return False
    text = README.read_text()
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        return False
    new = text[: start + len(TABLE_START)] + "\n" + table() + "\n" + text[end:]
    README.write_text(new)
    return True
