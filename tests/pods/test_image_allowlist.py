"""Only allowed images run on shared pod hosts: anything else is refused with 422 at create."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tenantry.rules.pod_config import image_allowed
from tests.fixtures.stack import Stack


@pytest.mark.parametrize(
    ("image", "allowed"),
    [
        ("tenantry/pod-base:1", True),
        ("tenantry/pod-base:2@sha256:" + "a" * 64, True),
        ("tenantry/pod-base-evil:1", False),
        ("docker.io/tenantry/pod-base:1", False),
        ("registry.example.com/team/tools:3", True),
        ("registry.example.com.evil.io/team/tools:3", False),
        ("ghcr.io/acme", True),
        ("ghcr.io/acme:2", True),
        ("ghcr.io/acme/tools:2", True),
        ("ghcr.io/acme-evil/x:1", False),
        ("busybox:latest", False),
    ],
)
def test_allowlist_entries_are_prefixes_or_whole_repositories(image: str, allowed: bool) -> None:
    allowlist = ["tenantry/pod-base:", "registry.example.com/", "ghcr.io/acme"]
    assert image_allowed(image, allowlist) is allowed


def test_an_image_outside_the_allowlist_gets_422_naming_the_field(
    stack_factory: Callable[..., Stack],
) -> None:
    stack = stack_factory(start_worker=False)
    key = stack.new_account("images@example.com")
    with stack.api.client(key) as http:
        refused = http.post(
            "/v1/pods",
            json={"name": "miner", "config": {"image": "docker.io/evil/miner:latest"}},
        )
        assert refused.status_code == 422, refused.text
        body = refused.json()["error"]
        assert body["details"]["fields"][0]["field"] == "config.image"
        assert "tenantry/pod-base:" in body["details"]["fields"][0]["message"]
        assert http.get("/v1/pods").json()["data"] == []

        # The default allowlist is the pod base image's: it is accepted (202).
        accepted = http.post(
            "/v1/pods", json={"name": "fine", "config": {"image": "tenantry/pod-base:1"}}
        )
        assert accepted.status_code == 202, accepted.text
