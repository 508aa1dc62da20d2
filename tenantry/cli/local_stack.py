"""Whether `tenantry dev` can run here: the local stack is an extra, not part of the product.

`pip install tenantry` gives the production processes only; the emulators, moto, the mail
sink and Temporal's dev server come with `pip install 'tenantry[devstack]'`. The list of
what that extra needs is read from our own installed metadata, so it cannot drift from
pyproject.toml, and is checked before `devstack` is imported: a half-installed stack
gets one line saying what to install instead of a traceback halfway through its start.
"""

from __future__ import annotations

import importlib.util
import re
from importlib import metadata

EXTRA = "devstack"
INSTALL_HINT = "pip install 'tenantry[devstack]' (in a checkout: make install)"

_EXTRA_MARKER = re.compile(rf"""extra\s*==\s*["']{EXTRA}["']""")
_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def extra_requirements(requires: list[str]) -> list[str]:
    """Distribution names that `Requires-Dist` lines mark for the devstack extra."""
    names = []
    for line in requires:
        if _EXTRA_MARKER.search(line):
            match = _REQUIREMENT_NAME.match(line)
            if match:
                names.append(match.group(0))
    return names


def _installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def missing_local_stack() -> list[str]:
    """What `tenantry dev` needs and is not installed (empty when it can run)."""
    try:
        requires = metadata.requires("tenantry") or []
    except metadata.PackageNotFoundError:  # run from a bare checkout: the import decides
        requires = []
    missing = [name for name in extra_requirements(requires) if not _installed(name)]
    if importlib.util.find_spec("devstack") is None:
        missing.append("devstack")
    return missing


def missing_message(missing: list[str]) -> str:
    """The one line `tenantry dev` prints when the local stack is not installed."""
    return f"tenantry dev needs the local stack ({', '.join(missing)} missing): {INSTALL_HINT}"
