"""`make bench`: runs every ``bench/bench_*.py`` in its own process and reports each result.

Each benchmark is a script (``python -m bench.bench_x``) that starts the real parts it
needs (a whole `tenantry dev`, see ``bench/stack.py``) and writes
``bench/results/<name>.json``; running them apart keeps one's servers and memory from
skewing another's numbers. Afterwards the README's benchmark table is rebuilt from every
result on disk. Exit 1 if any benchmark failed to run (a missed aim is reported, not an
error: it is a finding).

    python -m bench                 every benchmark
    python -m bench signup pods     those named (bench_signup.py, bench_pods.py)
    python -m bench --table         only rebuild the README table
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.report import RESULTS_DIR, table, update_readme

BENCH_DIR = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    if argv == ["--table"]:
        update_readme()
        print(table())
        return 0
    only = {name.removeprefix("bench_") for name in argv}
    scripts = sorted(
        p for p in BENCH_DIR.glob("bench_*.py") if not only or p.stem.removeprefix("bench_") in only
    )
    if not scripts:
        wanted = f" named {', '.join(sorted(only))}" if only else ""
        print(
            f"bench: no benchmarks{wanted} in {BENCH_DIR} yet; add bench/bench_<name>.py "
            "that writes bench/results/<name>.json"
        )
        return 0
    RESULTS_DIR.mkdir(exist_ok=True)
    failed: list[str] = []
    for script in scripts:
        print(f"bench: {script.stem} ...", flush=True)
        began = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", f"bench.{script.stem}"], cwd=BENCH_DIR.parent, check=False
        )
        took = time.monotonic() - began
        if result.returncode == 0:
            print(f"bench: {script.stem} ok in {took:.1f}s", flush=True)
        else:
            print(f"bench: {script.stem} FAILED (exit {result.returncode})", flush=True)
            failed.append(script.stem)
    print(f"bench: results in {RESULTS_DIR}")
    if update_readme():
        print("bench: README table updated")
    else:
        print("bench: README table left as it is (no markers, or results not in bench/results)")
    if failed:
        print(f"bench: failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
