"""The emulator's REST surface as the official hcloud client sees it."""

from __future__ import annotations

import hcloud
import pytest
from hcloud import APIException
from hcloud.images import Image
from hcloud.server_types import ServerType

from tests.fixtures.hetzner import NETWORK_PREFIX, HetznerEmulator, create_server


def test_create_returns_server_action_next_actions_and_password(
    hcloud_client: hcloud.Client,
) -> None:
    response = create_server(hcloud_client, "web-1", labels={"tenant": "acme"}, wait=False)
    server = response.server
    assert server.name == "web-1"
    assert server.server_type.name == "cpx21"
    assert server.image.name == "ubuntu-24.04"
    assert server.location.name == "fsn1"
    assert server.public_net.ipv4.ip.startswith(NETWORK_PREFIX)
    assert server.public_net.ipv6.ip.endswith("::/64")
    assert server.public_net.floating_ips == []
    assert response.action.command == "create_server"
    assert response.action.status == "running"
    assert [a.command for a in response.next_actions] == ["start_server"]
    assert response.root_password and len(response.root_password) >= 16
    for action in [response.action, *response.next_actions]:
        action.wait_until_finished()
    assert hcloud_client.servers.get_by_id(server.id).status == "running"


def test_get_update_delete(hcloud_client: hcloud.Client) -> None:
    server = create_server(hcloud_client, "app-1", location=None).server
    fetched = hcloud_client.servers.get_by_name("app-1")
    assert fetched is not None and fetched.id == server.id
    updated = hcloud_client.servers.update(server, name="app-2", labels={"role": "db"})
    assert (updated.name, updated.labels) == ("app-2", {"role": "db"})
    assert hcloud_client.servers.get_by_name("app-1") is None
    action = hcloud_client.servers.delete(updated)
    assert action.command == "delete_server"
    action.wait_until_finished()
    with pytest.raises(APIException) as err:
        hcloud_client.servers.get_by_id(server.id)
    assert err.value.code == "not_found"


def test_taken_name_is_a_uniqueness_error_and_creates_nothing(hcloud_client: hcloud.Client) -> None:
    create_server(hcloud_client, "dup", wait=False)
    with pytest.raises(APIException) as err:
        create_server(hcloud_client, "dup", wait=False)
    assert err.value.code == "uniqueness_error"
    assert len(hcloud_client.servers.get_all(name="dup")) == 1


def test_rename_to_a_taken_name_is_refused(hcloud_client: hcloud.Client) -> None:
    create_server(hcloud_client, "one", wait=False)
    two = create_server(hcloud_client, "two", wait=False).server
    with pytest.raises(APIException) as err:
        hcloud_client.servers.update(two, name="one")
    assert err.value.code == "uniqueness_error"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "not a hostname!"}, "name"),
        ({"name": "ok", "server_type": "cx9000"}, "server_type"),
        ({"name": "ok", "image": "windows-95"}, "image"),
        ({"name": "ok", "labels": {"bad key!": "x"}}, "labels"),
    ],
)
def test_invalid_input_names_the_field(
    hcloud_client: hcloud.Client, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(APIException) as err:
        create_server(hcloud_client, wait=False, **kwargs)  # type: ignore[arg-type]
    assert err.value.code == "invalid_input"
    assert [f["name"] for f in err.value.details["fields"]] == [field]
    assert hcloud_client.servers.get_all() == []


def test_unknown_location_is_invalid_input(hcloud_client: hcloud.Client) -> None:
    from hcloud.locations import Location

    with pytest.raises(APIException) as err:
        hcloud_client.servers.create(
            name="x", server_type=ServerType(name="cpx21"), image=Image(name="debian-12"),
            location=Location(name="mars1"),
        )  # fmt: skip
    assert err.value.code == "invalid_input"


def test_wrong_token_is_unauthorized(hetzner: HetznerEmulator) -> None:
    with pytest.raises(APIException) as err:
        hetzner.client(token="wrong").servers.get_all()
    assert err.value.code == "unauthorized"


def test_missing_server_is_not_found(hcloud_client: hcloud.Client) -> None:
    with pytest.raises(APIException) as err:
        hcloud_client.servers.get_by_id(424242)
    assert err.value.code == "not_found"
    with pytest.raises(APIException) as err:
        hcloud_client.actions.get_by_id(424242)
    assert err.value.code == "not_found"


def test_label_selector(hcloud_client: hcloud.Client) -> None:
    create_server(hcloud_client, "a", labels={"tier": "pro", "env": "prod"}, wait=False)
    create_server(hcloud_client, "b", labels={"tier": "starter", "env": "prod"}, wait=False)
    create_server(hcloud_client, "c", labels={"tier": "starter"}, wait=False)

    def names(selector: str) -> list[str]:
        return sorted(s.name for s in hcloud_client.servers.get_all(label_selector=selector))

    assert names("tier=pro") == ["a"]
    assert names("tier==starter") == ["b", "c"]
    assert names("tier!=pro") == ["b", "c"]
    assert names("env") == ["a", "b"]
    assert names("!env") == ["c"]
    assert names("tier in (pro,starter),env=prod") == ["a", "b"]
    assert names("tier notin (pro)") == ["b", "c"]
    assert names("env=prod,tier=starter") == ["b"]
    with pytest.raises(APIException) as err:
        names("tier in (pro")
    assert err.value.code == "invalid_input"


def test_pagination(hcloud_client: hcloud.Client) -> None:
    for i in range(7):
        create_server(hcloud_client, f"p{i}", wait=False)
    page = hcloud_client.servers.get_list(page=2, per_page=3)
    assert [s.name for s in page.servers] == ["p3", "p4", "p5"]
    pagination = page.meta.pagination
    assert (pagination.page, pagination.per_page) == (2, 3)
    assert (pagination.previous_page, pagination.next_page, pagination.last_page) == (1, 3, 3)
    assert pagination.total_entries == 7
    last = hcloud_client.servers.get_list(page=3, per_page=3)
    assert [s.name for s in last.servers] == ["p6"] and last.meta.pagination.next_page is None
    assert len(hcloud_client.servers.get_all()) == 7  # hcloud walks the pages itself


def test_catalog(hcloud_client: hcloud.Client) -> None:
    types = {t.name: t for t in hcloud_client.server_types.get_all()}
    assert {"cpx21", "ccx13"} <= set(types)
    assert types["ccx13"].cpu_type == "dedicated"
    assert {p["location"] for p in types["cpx21"].prices} >= {"fsn1", "nbg1", "hel1"}
    assert float(types["cpx21"].prices[0]["price_monthly"]["gross"]) > 0
    everywhere = {"fsn1", "nbg1", "hel1", "ash", "hil", "sin"}
    assert {loc.name for loc in hcloud_client.locations.get_all()} == everywhere
    assert {i.name for i in hcloud_client.images.get_all()} >= {"ubuntu-24.04", "debian-12"}
    assert hcloud_client.server_types.get_by_name("cpx21").cores == 3
    with pytest.warns(DeprecationWarning):
        datacenters = hcloud_client.datacenters.get_all()
    assert {d.location.name for d in datacenters} == everywhere


def test_ssh_keys_are_installed_for_root(
    hcloud_client: hcloud.Client, hetzner: HetznerEmulator
) -> None:
    import asyncssh

    key = asyncssh.generate_private_key("ssh-ed25519")
    public = key.export_public_key().decode().strip()
    registered = hcloud_client.ssh_keys.create(name="ops", public_key=public)
    assert registered.fingerprint.count(":") == 15
    with pytest.raises(APIException) as err:
        hcloud_client.ssh_keys.create(name="ops", public_key=public)
    assert err.value.code == "uniqueness_error"
    response = create_server(hcloud_client, "keyed", ssh_keys=[registered], wait=False)
    assert response.root_password is None
    authorized = hetzner.state_dir / "servers" / str(response.server.id) / "authorized_keys"
    assert public in authorized.read_text()
