"""The one table of every hub method, the roles that may call it, and whether it changes
anything (those calls go to the audit log, refused ones too).

A method missing from the table is denied to everyone (a test checks that every method of the
hub's services is listed). Join, Connect and Tunnel take no API key: a join token, a machine
certificate and a replica certificate authorize them (``MACHINE``).
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln.hub.auth.roles import HubRole

HUB = "/kiln.hub.v1alpha1.HubService/"
CLUSTER = "/kiln.hub.v1alpha1.ClusterService/"
JOIN = "/kiln.hublink.v1alpha1.HubJoinService/"
LINK = "/kiln.hublink.v1alpha1.HubLinkService/"
PEER = "/kiln.hublink.v1alpha1.HubPeerService/"

ADMIN = frozenset({HubRole.ADMIN})
OPERATOR = frozenset({HubRole.ADMIN, HubRole.OPERATOR})
PROVIDER = frozenset({HubRole.ADMIN, HubRole.OPERATOR, HubRole.INFRA_PROVIDER})
READER = frozenset({HubRole.ADMIN, HubRole.OPERATOR, HubRole.READER})
ANY_ROLE = frozenset(HubRole)
MACHINE: frozenset[HubRole] = frozenset()  # no API key: a join token or machine certificate


@dataclass(frozen=True)
class Permission:
    roles: frozenset[HubRole]
    mutating: bool = False


# fmt: off
PERMISSIONS: dict[str, Permission] = {
    HUB + "CreateApiKey":    Permission(ADMIN, mutating=True),
    HUB + "ListApiKeys":     Permission(ADMIN),
    HUB + "RevokeApiKey":    Permission(ADMIN, mutating=True),
    HUB + "CreateJoinToken": Permission(PROVIDER, mutating=True),
    HUB + "ListJoinTokens":  Permission(PROVIDER),
    HUB + "RevokeJoinToken": Permission(OPERATOR, mutating=True),
    HUB + "ListAudit":       Permission(ADMIN),
    HUB + "ListMachines":    Permission(ANY_ROLE),
    HUB + "WatchMachines":   Permission(ANY_ROLE),
    HUB + "ListReplicas":    Permission(READER),
    HUB + "LabelMachine":    Permission(OPERATOR, mutating=True),
    HUB + "RevokeMachine":   Permission(ADMIN, mutating=True),
    HUB + "SetMachineCredentials": Permission(ADMIN, mutating=True),
    HUB + "MachineVersion":  Permission(READER),
    HUB + "MachineLogs":     Permission(READER),
    CLUSTER + "SyncCluster":    Permission(OPERATOR, mutating=True),
    CLUSTER + "DeleteCluster":  Permission(OPERATOR, mutating=True),
    CLUSTER + "DiffCluster":    Permission(READER),
    CLUSTER + "GetCluster":     Permission(READER),
    CLUSTER + "ListClusters":   Permission(READER),
    CLUSTER + "ExportCluster":  Permission(READER),
    JOIN + "Join":           Permission(MACHINE, mutating=True),
    LINK + "Connect":        Permission(MACHINE),
    PEER + "Tunnel":         Permission(MACHINE),
}
# fmt: on


def needs_api_key(method: str) -> bool:
    permission = PERMISSIONS.get(method)
    return permission is None or bool(permission.roles)


def is_mutating(method: str) -> bool:
    permission = PERMISSIONS.get(method)
    return permission is not None and permission.mutating


def denial(method: str, role: HubRole) -> str | None:
    """Why ``role`` may not call ``method``, or None if it may."""
    short = method.removeprefix("/")
    permission = PERMISSIONS.get(method)
    if permission is None:
        return f"{short} is not in the permission table: denied to everyone"
    if role in permission.roles:
        return None
    needed = next(r for r in HubRole if r in permission.roles)
    return f"{short} needs role {needed.value} or higher; the API key has role {role.value}"
