"""Power actions, change_type, rebuild and action polling through hcloud."""

from __future__ import annotations

import hcloud
import pytest
from hcloud import APIException
from hcloud.actions import ActionFailedException, BoundAction
from hcloud.images import Image
from hcloud.server_types import ServerType

from tests.fixtures.hetzner import HetznerEmulator, create_server
from tests.support.poll import eventually


def _status(client: hcloud.Client, server_id: int) -> str:
    return str(client.servers.get_by_id(server_id).status)


def test_power_actions_change_status(hcloud_client: hcloud.Client) -> None:
    server = create_server(hcloud_client, "pw").server
    for call, command, status in [
        (hcloud_client.servers.power_off, "stop_server", "off"),
        (hcloud_client.servers.power_on, "start_server", "running"),
        (hcloud_client.servers.shutdown, "shutdown_server", "off"),
        (hcloud_client.servers.power_on, "start_server", "running"),
        (hcloud_client.servers.reboot, "reboot_server", "running"),
        (hcloud_client.servers.reset, "reset_server", "running"),
    ]:
        action = call(server)
        assert action.command == command
        assert action.status == "running"
        action.wait_until_finished()
        assert action.status == "success" and action.progress == 100
        assert _status(hcloud_client, server.id) == status


def test_start_after_create_false_leaves_server_off(hcloud_client: hcloud.Client) -> None:
    response = create_server(hcloud_client, "cold", start_after_create=False)
    assert response.next_actions == []
    assert _status(hcloud_client, response.server.id) == "off"


def test_change_type_refused_while_running_then_done_when_off(hcloud_client: hcloud.Client) -> None:
    server = create_server(hcloud_client, "grow").server
    with pytest.raises(APIException) as err:
        hcloud_client.servers.change_type(server, ServerType(name="ccx13"), upgrade_disk=False)
    assert err.value.code == "server_not_stopped"
    hcloud_client.servers.power_off(server).wait_until_finished()
    action = hcloud_client.servers.change_type(server, ServerType(name="ccx13"), upgrade_disk=True)
    assert action.command == "change_server_type"
    action.wait_until_finished()
    changed = hcloud_client.servers.get_by_id(server.id)
    assert (changed.server_type.name, changed.status) == ("ccx13", "off")


def test_a_running_action_locks_the_server(hcloud_client: hcloud.Client) -> None:
    response = create_server(hcloud_client, "busy", wait=False)
    with pytest.raises(APIException) as err:
        hcloud_client.servers.power_off(response.server)
    assert err.value.code == "locked"


def test_action_progress_and_lookup_paths(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client
) -> None:
    hetzner.admin.post("/_admin/config", {"action_duration": 1.0})
    server = create_server(hcloud_client, "slow", start_after_create=False, wait=False).server
    action_id = hcloud_client.servers.get_actions(server)[0].id
    seen = []

    def look() -> BoundAction:
        action = hcloud_client.actions.get_by_id(action_id)
        seen.append(action.progress)
        return action

    action = eventually(
        look, until=lambda a: a.status != "running", timeout=5, what="the action", interval=0.15
    )
    assert action.status == "success" and action.finished is not None
    assert seen == sorted(seen) and seen[-1] == 100 and any(0 < p < 100 for p in seen)
    for_server = hcloud_client.servers.actions.get_by_id(action_id)
    assert for_server.command == "create_server"
    raw = hcloud_client.request("GET", f"/servers/{server.id}/actions/{action_id}")
    assert raw["action"]["id"] == action_id


def test_rebuild_returns_a_password_and_keeps_running(hcloud_client: hcloud.Client) -> None:
    server = create_server(hcloud_client, "rb").server
    result = hcloud_client.servers.rebuild(server, Image(name="debian-12"))
    assert result.root_password
    result.action.wait_until_finished()
    rebuilt = hcloud_client.servers.get_by_id(server.id)
    assert (rebuilt.image.name, rebuilt.status) == ("debian-12", "running")


def test_admin_can_make_the_next_action_fail(
    hetzner: HetznerEmulator, hcloud_client: hcloud.Client
) -> None:
    server = create_server(hcloud_client, "flaky").server
    hetzner.admin.post("/_admin/config", {"action_failures": [{"command": "stop_server"}]})
    action = hcloud_client.servers.power_off(server)
    with pytest.raises(ActionFailedException):
        action.wait_until_finished()
    assert action.error["code"] == "action_failed"
    assert _status(hcloud_client, server.id) == "running"
    hcloud_client.servers.power_off(server).wait_until_finished()
    assert _status(hcloud_client, server.id) == "off"
