"""Who may call what on a node: the one table of every method of the machine APIs with the
roles allowed (the node enforces it; the hub maps its own roles onto it for the calls it
relays, :mod:`kiln.hub.auth.permissions`).

A client's roles are the Organizations of its certificate (:class:`~kiln.machinery.roles.Role`).
``os:admin`` may call everything; the other roles only what is listed. A method missing from
the table is denied to everyone (a test checks that every method of every service is listed).
``maintenance`` marks the methods a node in maintenance mode serves to anyone, without a
client certificate. ``trust`` marks the methods of the trust port (control-plane nodes, port
50001): served to anyone without a client certificate, each authorized by the machine token it
carries, and never served on the mutual-TLS port (no role may call them there).

A call forwarded by another node (``kiln.machined.api.forward``) is checked here too, with
the roles the forwarding node says its caller holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiln.machinery.roles import Role

MACHINE = "/kiln.machine.v1alpha1.MachineService/"
RESOURCE = "/kiln.resource.v1alpha1.ResourceService/"
SECURITY = "/kiln.security.v1alpha1.SecurityService/"

ADMIN = frozenset({Role.ADMIN})
OPERATOR = frozenset({Role.ADMIN, Role.OPERATOR})
READER = frozenset({Role.ADMIN, Role.OPERATOR, Role.READER})
BACKUP = frozenset({Role.ADMIN, Role.OPERATOR, Role.ETCD_BACKUP})
ANYONE = frozenset(Role)
NO_ROLE: frozenset[Role] = frozenset()

# The roles from least to most privileged: a denial names the first one that would do.
_LEAST_FIRST = (Role.ETCD_BACKUP, Role.READER, Role.OPERATOR, Role.ADMIN)


@dataclass(frozen=True)
class Permission:
    roles: frozenset[Role]
    maintenance: bool = False  # served to anyone while the node has no config
    trust: bool = False  # served on the trust port only, authorized by the machine token


# fmt: off
PERMISSIONS: dict[str, Permission] = {
    MACHINE + "ApplyConfiguration":    Permission(ADMIN, maintenance=True),
    MACHINE + "ConfirmConfiguration":  Permission(ADMIN),
    MACHINE + "Bootstrap":             Permission(ADMIN),
    MACHINE + "Reboot":                Permission(OPERATOR),
    MACHINE + "Shutdown":              Permission(OPERATOR),
    MACHINE + "Reset":                 Permission(ADMIN),
    MACHINE + "Upgrade":               Permission(ADMIN),
    MACHINE + "Rollback":              Permission(ADMIN),
    MACHINE + "ServiceList":           Permission(READER),
    MACHINE + "ServiceStart":          Permission(OPERATOR),
    MACHINE + "ServiceStop":           Permission(OPERATOR),
    MACHINE + "ServiceRestart":        Permission(OPERATOR),
    MACHINE + "Logs":                  Permission(READER),
    MACHINE + "Events":                Permission(READER),
    MACHINE + "Version":               Permission(ANYONE, maintenance=True),
    MACHINE + "Hardware":              Permission(READER, maintenance=True),
    MACHINE + "EtcdMemberList":        Permission(READER),
    MACHINE + "EtcdRemoveMember":      Permission(ADMIN),
    MACHINE + "EtcdLeaveCluster":      Permission(ADMIN),
    MACHINE + "EtcdForfeitLeadership": Permission(OPERATOR),
    MACHINE + "EtcdStatus":            Permission(READER),
    MACHINE + "EtcdSnapshot":          Permission(BACKUP),
    MACHINE + "EtcdDefragment":        Permission(OPERATOR),
    MACHINE + "Kubeconfig":            Permission(ADMIN),
    RESOURCE + "Get":                  Permission(READER),
    RESOURCE + "List":                 Permission(READER),
    RESOURCE + "Watch":                Permission(READER),
    RESOURCE + "Definitions":          Permission(READER),
    SECURITY + "Certificate":          Permission(NO_ROLE, trust=True),
}
# fmt: on

MAINTENANCE_METHODS: tuple[str, ...] = tuple(
    method.rsplit("/", 1)[1] for method, permission in PERMISSIONS.items() if permission.maintenance
)


@dataclass(frozen=True)
class Verdict:
    """Whether a call may go ahead; ``reason`` says why not."""

    allowed: bool
    reason: str = ""


def check(method: str, roles: frozenset[Role]) -> Verdict:
    """May a client with ``roles`` call ``method`` (a full gRPC method name)?"""
    permission = PERMISSIONS.get(method)
    short = method.removeprefix("/")
    if permission is None:
        return Verdict(False, f"{short} is not in the permission table: denied to everyone")
    if roles & permission.roles:
        return Verdict(True)
    if not permission.roles:
        return Verdict(False, f"{short} is served only on the trust port, to a machine token")
    needed = next(role for role in _LEAST_FIRST if role in permission.roles)
    others = [role.value for role in _LEAST_FIRST if role in permission.roles and role != needed]
    alternatives = f" (or {', '.join(others)})" if others else ""
    held = ", ".join(sorted(role.value for role in roles)) or "no role"
    return Verdict(
        False,
        f"{short} needs role {needed.value}{alternatives}; the client certificate grants {held}",
    )


def is_served_in_maintenance(method: str) -> bool:
    permission = PERMISSIONS.get(method)
    return permission is not None and permission.maintenance


def is_served_on_trust_port(method: str) -> bool:
    permission = PERMISSIONS.get(method)
    return permission is not None and permission.trust
