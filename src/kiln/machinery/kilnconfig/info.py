"""What a context holds, decoded for people: roles and expiry of its client certificate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiln.machinery.errors import KilnconfigError, SecretsError
from kiln.machinery.kilnconfig.model import Context, HubRoute, Kilnconfig
from kiln.machinery.secrets.pki import Certificate


@dataclass(frozen=True)
class ContextInfo:
    name: str
    current: bool
    endpoints: tuple[str, ...]
    nodes: tuple[str, ...]
    common_name: str
    roles: tuple[str, ...]  # the client certificate's Organization values
    expires: datetime | None  # None: an API key's, which the hub knows
    ca_fingerprint: str  # SHA-256 of the CA certificate (of the hub's, through a hub)


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
    if context.hub is not None:
        return _through_hub(config, name, context, context.hub)
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


def _through_hub(config: Kilnconfig, name: str, context: Context, hub: HubRoute) -> ContextInfo:
    try:
        ca = Certificate.from_b64(hub.ca, "hub.ca")
    except SecretsError as exc:
        raise KilnconfigError(f"{config.source}: context {name!r}: {exc}") from None
    key_id = hub.api_key.split(".")[1] if hub.api_key.count(".") == 2 else "?"
    return ContextInfo(
        name=name,
        current=name == config.context,
        endpoints=(hub.url,),
        nodes=tuple(context.nodes),
        common_name=f"API key {key_id} through the hub, to cluster {hub.cluster}",
        roles=("the API key's hub role",),
        expires=None,
        ca_fingerprint=ca.fingerprint(),
    )
