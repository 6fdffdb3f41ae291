"""The one table of every hub method, the roles that may call it, and whether it changes
anything (those calls go to the audit log, refused ones too).

A method missing from the table is denied to everyone (a test checks that every method of the
hub's services is listed). Join, Connect and Tunnel take no API key: a join token, a machine
certificate and a replica certificate authorize them (``MACHINE``).

The machine APIs (MachineService, ResourceService) that the hub relays to the machines of its
clusters (:mod:`~kiln.hub.api.machine_proxy`) follow the nodes' own table
(:mod:`kiln.machinery.permissions`): a key of role admin, operator or reader may make the calls
a client certificate of ``os:admin``, ``os:operator`` or ``os:reader`` may. Those a reader may
not make (changes, and secrets such as Kubeconfig) go to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln.hub.auth.roles import HubRole
from kiln.machinery import permissions as machine_permissions
from kiln.machinery.roles import Role

HUB = "/kiln.hub.v1alpha1.HubService/"
CLUSTER = "/kiln.hub.v1alpha1.ClusterService/"
ACCESS = "/kiln.hub.v1alpha1.ClusterAccessService/"
JOIN = "/kiln.hublink.v1alpha1.HubJoinService/"
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
    ACCESS + "CheckAccess":     Permission(READER),
    ACCESS + "Kubeconfig":      Permission(OPERATOR, mutating=True),
    JOIN + "Join":           Permission(MACHINE, mutating=True),
    PEER + "Tunnel":         Permission(MACHINE),
}
# fmt: on


#: The role of a machine's client certificate each hub role acts as (relayed calls).
MACHINE_ROLES: dict[HubRole, Role] = {
    HubRole.READER: Role.READER,
    HubRole.OPERATOR: Role.OPERATOR,
    HubRole.ADMIN: Role.ADMIN,
}
RELAYED_SERVICES = (machine_permissions.MACHINE, machine_permissions.RESOURCE)


def is_relayed(method: str) -> bool:
    """A machine API method the hub relays to a cluster's machines."""
    return method.startswith(RELAYED_SERVICES) and method in machine_permissions.PERMISSIONS


def needs_api_key(method: str) -> bool:
    permission = PERMISSIONS.get(method)
    return is_relayed(method) or permission is None or bool(permission.roles)


def is_mutating(method: str) -> bool:
    """Whether calls of ``method`` go to the audit log."""
    if is_relayed(method):
        return not machine_permissions.check(method, frozenset({Role.READER})).allowed
    permission = PERMISSIONS.get(method)
    return permission is not None and permission.mutating


def denial(method: str, role: HubRole) -> str | None:
    """Why ``role`` may not call ``method``, or None if it may."""
    short = method.removeprefix("/")
    if is_relayed(method):
        return _relayed_denial(method, role)
    permission = PERMISSIONS.get(method)
    if permission is None:
        return f"{short} is not in the permission table: denied to everyone"
    if role in permission.roles:
        return None
    needed = next(r for r in HubRole if r in permission.roles)
    return f"{short} needs role {needed.value} or higher; the API key has role {role.value}"


def _relayed_denial(method: str, role: HubRole) -> str | None:
    def allows(hub_role: HubRole) -> bool:
        acting = MACHINE_ROLES.get(hub_role)
        return acting is not None and machine_permissions.check(method, frozenset({acting})).allowed

    if allows(role):
        return None
    needed = next(r for r in HubRole if allows(r))
    return (
        f"{method.removeprefix('/')} needs role {needed.value} or higher on the hub; "
        f"the API key has role {role.value}"
    )
