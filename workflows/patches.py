"""The one registry of workflow patches: every patch id and where it stands.

Before the first release nothing runs in production, so a change that breaks replay
re-records the histories in `tests/replay/histories` instead of adding a patch; this
registry is empty and no workflow calls `patched`.

From the first release on, a change that alters a workflow's commands (a step added,
removed or reordered, an activity made local, a timer) goes through three steps of
Temporal's patching lifecycle (the SDK's `patched` and `deprecate_patch`), each
one a commit that also edits its entry here:

1. **patched**: `if patched("id"):` the new path, else the old one; a history recorded
   before the change stays in `tests/replay/histories` (named in `old_history`) and
   replays the old path; a new one is recorded on the new path.
2. **deprecated**: once no run that began before the patch is still open (in Temporal:
   no open execution older than the patch's deploy), the old path goes and the call
   becomes `deprecate_patch("id")`; runs on the new path replay with or without the
   marker, and the old history, which took the old path, is dropped.
3. **removed**: once no open run still carries the marker, the `deprecate_patch` call
   goes and the entry is deleted here.

`tests/replay/test_patches.py` holds the code to this registry: every `patched` and
`deprecate_patch` id in `workflows/` must be here with the matching stage, and every
`patched` entry must name an old history that exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PatchStage(StrEnum):
    PATCHED = "patched"  # both paths in the code, the old history kept
    DEPRECATED = "deprecated"  # only the new path, `workflow.deprecate_patch` marks it


@dataclass(frozen=True)
class Patch:
    """One patch: its id, the workflow it is in, its stage and why it was made."""

    id: str
    workflow: str
    stage: PatchStage
    since: str  # the release that brought the patch (or the one that deprecated it)
    reason: str
    old_history: str | None = None  # under tests/replay/histories, while PATCHED


PATCHES: tuple[Patch, ...] = ()
