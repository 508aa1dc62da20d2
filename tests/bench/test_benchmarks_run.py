"""Every benchmark still runs end to end, at a small size; its figures are not judged here.

Speed and memory are measured by `make bench`, never by tests. This keeps the benchmarks
from rotting as the product changes: each one starts its own real `tenantry dev`, drives
it at a size that takes seconds, and must write a result with its checks and figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SMALL = {
    "api": {"BENCH_API_SECONDS": "2"},
    "metering": {"BENCH_METERING_PODS": "200"},
    "pods": {"BENCH_PODS_ROUNDS": "1", "BENCH_PODS_MB": "8"},
    "signup": {"BENCH_SIGNUP_ROUNDS": "1"},
    "throughput": {"BENCH_THROUGHPUT_SIGNUPS": "4"},
    "warm_signup": {
        "BENCH_WARM_SIGNUP_ROUNDS": "1",
        "BENCH_WARM_SIGNUP_RUNNING": "2",
        "BENCH_WARM_SIGNUP_HEALTHY": "1",
    },
    "worker_memory": {"BENCH_WORKER_MEMORY_PODS": "100", "BENCH_WORKER_MEMORY_SECONDS": "4"},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_the_benchmark_runs_and_writes_its_result(name: str, tmp_path: Path) -> None:
    env = {**os.environ, **SMALL[name], "BENCH_RESULTS_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", f"bench.bench_{name}"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / f"{name}.json").read_text())
    assert result["name"] == name
    assert result["figures"] and result["machine"]["cpus"]
    assert result["checks"], "a benchmark without an aim measures nothing"
    for check in result["checks"]:
        assert isinstance(check["value"], int | float) and isinstance(check["met"], bool)
