"""production.env.example is generated from the settings classes and must stay current;
the compose file may only name settings that exist."""

from __future__ import annotations

import re

import yaml

from scripts import gen_env_example
from tenantry.settings import CoreSettings

ALL_FIELDS = {name for cls, _ in gen_env_example.SECTIONS for name in cls.model_fields}


def test_the_committed_example_is_what_the_generator_writes() -> None:
    assert gen_env_example.OUTPUT.read_text() == gen_env_example.render(), (
        "production.env.example is out of date: run .venv/bin/python -m scripts.gen_env_example"
    )


def test_every_setting_is_listed_once_with_a_comment() -> None:
    lines = gen_env_example.render().splitlines()
    for name in ALL_FIELDS:
        variable = f"TENANTRY_{name.upper()}="
        rows = [i for i, line in enumerate(lines) if line.lstrip("#").startswith(variable)]
        assert len(rows) == 1, name
        # Its own comment, or its group's above the group's first line.
        above = rows[0] - 1
        while lines[above].lstrip("#").startswith("TENANTRY_"):
            above -= 1
        assert lines[above].startswith("# "), f"{name} has no comment above it"


def test_production_values_are_settings_and_load() -> None:
    assert set(gen_env_example.PRODUCTION) <= ALL_FIELDS
    text = gen_env_example.render()
    assert "TENANTRY_ENV=production\n" in text
    # Empty endpoints: the real services (tests/settings checks the clients they give).
    for name in ("hetzner_endpoint", "route53_endpoint", "s3_endpoint", "stripe_api_base"):
        assert f"TENANTRY_{name.upper()}=\n" in text


def test_the_compose_file_names_only_real_settings() -> None:
    spec = yaml.safe_load(gen_env_example.COMPOSE_FILE.read_text())
    named = set(re.findall(r"TENANTRY_([A-Z0-9_]+)", yaml.safe_dump(spec["services"])))
    named |= {k.removeprefix("TENANTRY_") for k in spec["x-tenantry"]["environment"]}
    named |= {
        n.removeprefix("tenantry_").upper() for n in spec["secrets"] if n.startswith("tenantry_")
    }
    # Variables of the compose file itself (image names, ports), not of the processes.
    compose_only = {"IMAGE", "SECRETS_DIR", "CADDY_CONFIG", "EDGE_LISTEN"}
    unknown = {n for n in named - compose_only if n.lower() not in ALL_FIELDS}
    assert not unknown, f"docker-compose.yml names settings that do not exist: {unknown}"
    secrets = {n.removeprefix("tenantry_") for n in spec["secrets"] if n.startswith("tenantry_")}
    assert {"admin_token", "encryption_key", "stripe_webhook_secret"} <= secrets
    assert secrets <= set(CoreSettings.model_fields)
