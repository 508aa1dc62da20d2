"""This machine's size and load, from the kernel (Linux ``/proc``)."""

from __future__ import annotations

import os
from pathlib import Path

MEMINFO = Path("/proc/meminfo")


def cpu_millis() -> int:
    """The CPUs this process may run on, in thousandths of a CPU."""
    return len(os.sched_getaffinity(0)) * 1000


def _meminfo_mb(field: str, meminfo: Path = MEMINFO) -> int:
    for line in meminfo.read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == field:
            return int(rest.split()[0]) // 1024  # the kernel reports kB
    raise ValueError(f"{meminfo} has no {field}")


def memory_mb() -> int:
    """Installed memory (MemTotal) in MB."""
    return _meminfo_mb("MemTotal")


def available_memory_mb() -> int:
    """Memory available for new work without swapping (MemAvailable) in MB."""
    return _meminfo_mb("MemAvailable")


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
