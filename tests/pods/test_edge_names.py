"""Edge naming rules and the edge agent's log follower, on their own (no stack)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tenantry.agents.edge import LogFollower, request_host
from tenantry.rules.edge_names import (
    MAX_LABEL,
    account_handle,
    handle_id_range,
    label_problem,
    pod_hostname,
    pod_of_route,
    pod_url,
    route_id,
    split_hostname,
)


def test_hostnames_are_dns_labels_found_back_from_the_host() -> None:
    account = uuid.UUID("0123abcd-ef45-4678-9abc-def012345678")
    assert account_handle(account) == "0123abcdef45"
    host = pod_hostname("http", "api-dev", account, "pods.localhost")
    assert host == "http-api-dev-0123abcdef45.pods.localhost"
    assert pod_url(host, scheme="http", port=8080) == f"http://{host}:8080"
    assert pod_url(host, scheme="https", port=443) == f"https://{host}"

    assert split_hostname(f"{host.upper()}:8080", "pods.localhost") == (
        "http-api-dev",
        "0123abcdef45",
    )
    strangers = [
        "pods.localhost",
        "x.y-0123abcdef45.pods.localhost",
        "http-0123.pods.localhost",
        "http-api-dev-0123abcdef45.other.test",
        "[::1]:8080",
        "",
    ]
    for stranger in strangers:
        assert split_hostname(stranger, "pods.localhost") is None, stranger

    low, high = handle_id_range("0123abcdef45") or (None, None)
    assert low is not None and high is not None and low <= account <= high
    assert handle_id_range("0123ABCDEF45") is None and handle_id_range("0123") is None


def test_the_longest_allowed_label_fits_and_one_more_character_does_not() -> None:
    service, name = "s" * 18, "p" * 31  # 18 + 1 + 31 + 1 + 12 = 63
    assert label_problem([service], name) is None
    assert len(pod_hostname(service, name, uuid.uuid4(), "d").split(".")[0]) == MAX_LABEL
    problem = label_problem(["http", service + "s"], name)
    assert problem is not None and "64 characters" in problem


def test_route_ids_name_their_pod() -> None:
    pod_id = str(uuid.uuid4())
    assert pod_of_route(route_id(pod_id, "admin-ui")) == pod_id
    assert pod_of_route("edge-fallback") is None
    assert pod_of_route(f"pod-{pod_id}") is None
    assert pod_of_route("pod-not-a-uuid-at-all-not-a-uuid-at-all-x") is None


def _entry(host: str) -> str:
    return json.dumps({"logger": "http.log.access.edge", "request": {"host": host}}) + "\n"


def test_log_follower_reads_new_lines_across_rotation_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    follower = LogFollower(log)
    assert follower.read_lines() == []  # not there yet: a file that appears is new
    log.write_text(_entry("a.pods.test:8080") + _entry("B.pods.test"))
    assert [request_host(line) for line in follower.read_lines()] == ["a.pods.test", "b.pods.test"]

    with log.open("a") as f:  # a line written in two parts is read once, whole
        f.write(_entry("c.pods.test")[:10])
    assert follower.read_lines() == []
    with log.open("a") as f:
        f.write(_entry("c.pods.test")[10:] + "not json\n")
    lines = follower.read_lines()
    assert [request_host(line) for line in lines] == ["c.pods.test", None]

    # Rolled: the old file's rest, then the new file from its start.
    with log.open("a") as f:
        f.write(_entry("d.pods.test"))
    log.rename(tmp_path / "access-1.log")
    log.write_text(_entry("e.pods.test"))
    assert [request_host(line) for line in follower.read_lines()] == ["d.pods.test", "e.pods.test"]

    log.write_text(_entry("f.test"))  # truncated and rewritten (shorter)
    assert [request_host(line) for line in follower.read_lines()] == ["f.test"]
    follower.close()

    # A follower started later skips what was logged before it.
    late = LogFollower(log)
    assert late.read_lines() == []
    with log.open("a") as f:
        f.write(_entry("g.pods.test"))
    assert [request_host(line) for line in late.read_lines()] == ["g.pods.test"]
    late.close()
