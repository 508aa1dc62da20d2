"""The pod config a user sends (YAML text or a JSON object), validated field by field.

```yaml
name: api-dev            # optional here when the request names the pod
tier: dev.small          # optional here when the request gives the tier
template: base           # or: image: tenantry/pod-base:1
services:
  - name: http
    port: 8080
env:
  LOG_LEVEL: debug
secrets:                 # stored encrypted; reach the container as environment only
  API_TOKEN: s3cret
idle_timeout: 30m        # seconds, or a number with s/m/h; none: never idle-hibernate
```

Errors name the field at fault (`config.services.0.port`), so the API can answer 422
with a message a user can act on.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tenantry.contracts.podhost import ENV_NAME, POD_BASE_IMAGE, ServicePort
from tenantry.rules.plans import PodTier

TEMPLATES: dict[str, str] = {"base": POD_BASE_IMAGE}
POD_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?")
_DURATION = re.compile(r"\s*(\d{1,9})\s*([smh]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}
IMAGE_REF = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._/:@-]{0,254}")

# Env and secrets travel in the pod workflow's input (and its history) on every run, so
# they stay small: a few dozen one-line entries, not files.
MAX_ENV_ENTRIES = 64
MAX_ENV_NAME_LENGTH = 128
MAX_ENV_VALUE_LENGTH = 4096
MAX_CONFIG_CHARS = 64 * 1024


class PodConfigError(ValueError):
    """The config is not a pod config; `fields` lists each problem as field and message."""

    def __init__(self, fields: list[dict[str, str]]) -> None:
        first = fields[0] if fields else {"field": "config", "message": "invalid"}
        super().__init__(f"{first['field']}: {first['message']}")
        self.fields = fields


def _check_env_names(values: dict[str, str]) -> dict[str, str]:
    if len(values) > MAX_ENV_ENTRIES:
        raise ValueError(f"at most {MAX_ENV_ENTRIES} entries")
    for name, value in values.items():
        if len(name) > MAX_ENV_NAME_LENGTH:
            raise ValueError(f"names are at most {MAX_ENV_NAME_LENGTH} characters")
        if len(value) > MAX_ENV_VALUE_LENGTH:
            raise ValueError(f"{name}: values are at most {MAX_ENV_VALUE_LENGTH} characters")
        if not ENV_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid environment variable name")
        if any(c in value for c in "\n\r\0"):
            raise ValueError(f"{name}: the value must be one line")
    return values


class PodConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    tier: PodTier | None = None
    image: str | None = Field(default=None, description="a container image on the pod hosts")
    template: str | None = Field(default=None, description="one of: " + ", ".join(TEMPLATES))
    services: list[ServicePort] = Field(
        default_factory=lambda: [ServicePort(name="http", port=8080)], max_length=16
    )
    env: dict[str, str] = Field(default_factory=dict)
    secrets: dict[str, str] = Field(default_factory=dict, repr=False)
    idle_timeout: int | None = Field(default=None, description="seconds (or 30s, 15m, 2h)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not POD_NAME.fullmatch(value):
            raise ValueError("1-32 lowercase letters, digits and hyphens, not at either end")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and not IMAGE_REF.fullmatch(value):
            raise ValueError("not a container image reference")
        return value

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None and value not in TEMPLATES:
            raise ValueError(f"unknown template; one of: {', '.join(TEMPLATES)}")
        return value

    @field_validator("env", "secrets")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_env_names(value)

    @field_validator("idle_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _DURATION.fullmatch(value)
            if not match:
                raise ValueError("a duration: seconds, or a number with s, m or h")
            return int(match.group(1)) * _UNITS[match.group(2)]
        return value

    @field_validator("idle_timeout")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError("must be at least 1 second")
        return value

    @field_validator("services")
    @classmethod
    def _services(cls, value: list[ServicePort]) -> list[ServicePort]:
        names = [s.name for s in value]
        if len(set(names)) != len(names):
            raise ValueError("service names must be unique")
        if len({s.port for s in value}) != len(value):
            raise ValueError("service ports must be unique")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> PodConfig:
        if self.image and self.template:
            raise ValueError("give either image or template, not both")
        overlap = set(self.env) & set(self.secrets)
        if overlap:
            raise ValueError(f"in both env and secrets: {', '.join(sorted(overlap))}")
        return self

    @property
    def resolved_image(self) -> str:
        if self.image:
            return self.image
        return TEMPLATES[self.template or "base"]

    def public(self) -> dict[str, Any]:
        """The config as stored in plain text: secret names only, never their values."""
        data = self.model_dump(mode="json", exclude={"secrets"})
        data["secrets"] = sorted(self.secrets)
        return data


def parse_pod_config(raw: str | dict[str, Any] | None) -> PodConfig:
    """Parses YAML text or a JSON object; PodConfigError names each field at fault."""
    size = len(raw) if isinstance(raw, str) else len(json.dumps(raw)) if raw else 0
    if size > MAX_CONFIG_CHARS:
        message = f"at most {MAX_CONFIG_CHARS} characters"
        raise PodConfigError([{"field": "config", "message": message}])
    if raw is None:
        data: Any = {}
    elif isinstance(raw, str):
        try:
            data = yaml.safe_load(raw) if raw.strip() else {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise PodConfigError([{"field": "config", "message": f"not YAML{where}"}]) from exc
    else:
        data = raw
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PodConfigError([{"field": "config", "message": "must be a mapping"}])
    try:
        return PodConfig.model_validate(data)
    except ValidationError as exc:
        fields = [
            {
                "field": ".".join(["config", *(str(p) for p in err["loc"])]),
                "message": err["msg"].removeprefix("Value error, "),
            }
            for err in exc.errors()
        ]
        raise PodConfigError(fields) from None


def image_allowed(image: str, allowlist: list[str]) -> bool:
    """Whether ``image`` comes from one of the allowed registries or repositories.

    Strangers share pod hosts, so only images the operator trusts may run there. An
    entry that ends in ``/``, ``:`` or ``@`` is a prefix (``registry.example.com/``,
    ``tenantry/pod-base:``); any other entry is a repository, matched whole, so
    ``ghcr.io/acme`` allows ``ghcr.io/acme:1`` and ``ghcr.io/acme/tools:2`` but not
    ``ghcr.io/acme-evil/x``.
    """
    for entry in allowlist:
        if entry.endswith(("/", ":", "@")):
            if image.startswith(entry):
                return True
        elif image == entry or image.startswith((f"{entry}:", f"{entry}@", f"{entry}/")):
            return True
    return False
