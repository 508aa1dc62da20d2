"""The workflows' patches and `workflows/patches.py` agree.

Every `workflow.patched("id")` and `workflow.deprecate_patch("id")` in `workflows/` is in
the registry with that stage, every entry is still in the code, and a `patched` entry
names the old history that keeps its old path replaying. Ids are literals so that this
walk can read them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from workflows.patches import PATCHES, PatchStage

ROOT = Path(__file__).parents[2]
HISTORIES = Path(__file__).parent / "histories"
CALLS = {"patched": PatchStage.PATCHED, "deprecate_patch": PatchStage.DEPRECATED}


def patch_calls(source: str, filename: str) -> dict[str, PatchStage]:
    """The id and stage of each `patched`/`deprecate_patch` call in `source`."""
    found: dict[str, PatchStage] = {}
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        stage = CALLS.get(node.func.attr)
        if stage is None:
            continue
        arg = node.args[0] if node.args else None
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            raise AssertionError(f"{filename}:{node.lineno}: a patch id must be a literal")
        found[arg.value] = stage
    return found


def in_the_code() -> dict[str, PatchStage]:
    found: dict[str, PatchStage] = {}
    for path in sorted((ROOT / "workflows").rglob("*.py")):
        found.update(patch_calls(path.read_text(), path.relative_to(ROOT).as_posix()))
    return found


def test_the_walk_finds_patches_and_refuses_computed_ids() -> None:
    source = 'if workflow.patched("a"):\n    pass\nworkflow.deprecate_patch("b")\n'
    assert patch_calls(source, "x.py") == {"a": PatchStage.PATCHED, "b": PatchStage.DEPRECATED}
    with pytest.raises(AssertionError, match="literal"):
        patch_calls('workflow.patched(f"edge-{seq}")', "x.py")


def test_every_patch_in_the_code_is_registered_with_its_stage() -> None:
    registered = {p.id: p.stage for p in PATCHES}
    assert in_the_code() == registered


def test_a_patched_entry_keeps_its_old_history() -> None:
    for patch in PATCHES:
        if patch.stage == PatchStage.PATCHED:
            assert patch.old_history, patch.id
            assert (HISTORIES / patch.old_history).is_file(), patch
