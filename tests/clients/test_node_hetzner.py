"""The Hetzner emulator serves hcloud-js, a community Node client, as the real API would.

A client that is neither ours nor Hetzner's Python SDK catches what our own tests share
blind spots with: hcloud-js sends integer IDs when handed IDs, builds its own query
strings (``label_selector``) and reads the response shapes its own way.
"""

from __future__ import annotations

from tests.clients.node import run_node
from tests.fixtures.hetzner import HetznerEmulator

LIFECYCLE = [
    "stop_server",
    "change_server_type",
    "start_server",
    "reboot_server",
    "rebuild_server",
    "delete_server",
]


def test_hcloud_js_drives_a_server_through_its_life_and_every_location(
    hetzner: HetznerEmulator,
) -> None:
    out = run_node(
        "hetzner.mjs", {"HCLOUD_URL": f"{hetzner.endpoint}/", "HCLOUD_TOKEN": hetzner.token}
    )
    for form, sent in (("id", "number"), ("name", "string")):
        steps = out["forms"][form]
        assert steps["created"] == {"sent": sent, "type": "cpx11", "location": "nbg1"}, form
        assert len(steps["by_name"]) == 1 and steps["by_label"] == steps["by_name"], form
        assert steps["commands"] == LIFECYCLE, form
        assert (steps["status_off"], steps["status_on"]) == ("off", "running"), form
        assert (steps["resized_to"], steps["rebuilt_to"]) == ("cpx31", "debian-12"), form
        assert steps["renamed_to"] == f"node-{form}-renamed", form
        assert steps["after_delete"] == 0, form

    locations = out["locations"]
    assert set(locations) == {"fsn1", "nbg1", "hel1", "ash", "hil", "sin"}
    for name, seen in locations.items():
        assert seen["created_in"] == name and seen["datacenter"].startswith(f"{name}-dc")
        if seen["misfit"] is not None:
            assert seen["refused"] == "invalid_input: unsupported location for server type"
    assert all(locations[us]["misfit"] for us in ("ash", "hil", "sin"))
    assert hetzner.client().servers.get_all() == []
