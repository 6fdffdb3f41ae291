"""What a context holds, decoded for people: roles and expiry of its client certificate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiln.machinery.errors import KilnconfigError, SecretsError
from kiln.machinery.kilnconfig.model import Context, Kilnconfig
from kiln.machinery.secrets.pki import Certificate


@dataclass(frozen=True)
class ContextInfo:
    name: str
    current: bool
    endpoints: tuple[str, ...]
    nodes: tuple[str, ...]
    common_name: str
    roles: tuple[str, ...]  # the client certificate's Organization values
    expires: datetime
    ca_fingerprint: str  # SHA-256 of the CA certificate


def describe(config: Kilnconfig, name: str | None = None) -> ContextInfo:
    """Describe context ``name`` (default: the current one)."""
    target, context = config.current(name)
    return describe_context(config, target, context)


def describe_all(config: Kilnconfig) -> list[ContextInfo]:
    """Every context, sorted by name."""
    return [
        describe_context(config, name, config.contexts[name]) for name in sorted(config.contexts)
    ]


def describe_context(config: Kilnconfig, name: str, context: Context) -> ContextInfo:
    try:
        crt = Certificate.from_b64(context.crt, "crt")
        ca = Certificate.from_b64(context.ca, "ca")
        common_name, organizations = crt.common_name, crt.organizations
    except SecretsError as exc:
        raise KilnconfigError(f"{config.source}: context {name!r}: {exc}") from None
    return ContextInfo(
        name=name,
        current=name == config.context,
        endpoints=tuple(context.endpoints),
        nodes=tuple(context.nodes),
        common_name=common_name,
        roles=tuple(organizations),
        expires=crt.not_after,
        ca_fingerprint=ca.fingerprint(),
    )
