"""Every call across the Temporal boundary names its workflow, signal, update or query
through the workflow class, never by a string.

A string-named call survives a rename and fails only at run time (an unknown update, a
signal nobody handles); a typed one is an error for mypy and at import. The check is a
walk over the product's source, so it needs no server. A call is string-named when its
name argument is a literal (or an f-string), or when it passes `result_type=`, which
only a call that the SDK cannot type needs. Signal-with-start takes its signal by name
in the SDK; the name must come from the handler (`CreditsWorkflow.depleted.__name__`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PRODUCT = ("api", "workflows", "activities", "worker", "tenantry")
# Calls whose first argument names a workflow, signal, update or query.
NAMED_CALLS = frozenset(
    {
        "start_workflow",
        "execute_workflow",
        "start_child_workflow",
        "execute_child_workflow",
        "signal",
        "query",
        "start_update",
        "execute_update",
        "start_update_with_start_workflow",
        "execute_update_with_start_workflow",
        "ScheduleActionStartWorkflow",
        "WithStartWorkflowOperation",
    }
)
NAME_KEYWORDS = frozenset({"workflow", "update", "start_signal"})


def _is_string(node: ast.expr) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def string_named_calls(source: str, filename: str) -> list[str]:
    """`file:line call` for each call in `source` that names its target by a string."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _called(node)
        keywords = {k.arg: k.value for k in node.keywords if k.arg is not None}
        start_signal = keywords.get("start_signal")
        if start_signal is not None and _is_string(start_signal):
            found.append(f"{filename}:{node.lineno} start_signal")
        if name not in NAMED_CALLS:
            continue
        target = node.args[0] if node.args else None
        if target is None:
            target = next((keywords[k] for k in NAME_KEYWORDS if k in keywords), None)
        if (target is not None and _is_string(target)) or "result_type" in keywords:
            found.append(f"{filename}:{node.lineno} {name}")
    return found


def product_sources() -> list[Path]:
    return sorted(p for d in PRODUCT for p in (ROOT / d).rglob("*.py"))


def test_the_product_is_walked() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in product_sources()}
    assert {"activities/credits.py", "workflows/pod.py", "worker/registry.py"} <= names
    assert any(n.startswith("api/") for n in names)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('await h.execute_update("hibernate", req, result_type=PodState)', ["execute_update"]),
        ("await h.execute_update(PodWorkflow.hibernate, req)", []),
        ('await h.signal("topped_up", top_up)', ["signal"]),
        ("await h.signal(CreditsWorkflow.topped_up, top_up)", []),
        ('await h.query("state")', ["query"]),
        (
            'await c.start_workflow("CreditsWorkflow", inp, id="x", task_queue="q")',
            ["start_workflow"],
        ),
        ("await c.start_workflow(CreditsWorkflow.run, inp, id='x', task_queue='q')", []),
        ("await c.start_workflow(W.run, inp, id='x', start_signal='depleted')", ["start_signal"]),
        ("await c.start_workflow(W.run, inp, id='x', start_signal=W.depleted.__name__)", []),
        ('await h.start_update(f"{op}", req, wait_for_stage=s)', ["start_update"]),
        ("await h.execute_update(name, req, result_type=PodState)", ["execute_update"]),
        (
            'ScheduleActionStartWorkflow("MeteringWorkflow", inp, id="m", task_queue="q")',
            ["ScheduleActionStartWorkflow"],
        ),
        ("signal.signal(sig, handler)", []),
    ],
)
def test_the_check_tells_string_names_from_typed_ones(source: str, expected: list[str]) -> None:
    found = string_named_calls(source, "x.py")
    assert [f.split(" ", 1)[1] for f in found] == expected


def test_no_string_named_workflow_calls_in_the_product() -> None:
    found = [
        hit
        for path in product_sources()
        for hit in string_named_calls(path.read_text(), path.relative_to(ROOT).as_posix())
    ]
    assert found == [], "name these through the workflow class:\n" + "\n".join(found)
