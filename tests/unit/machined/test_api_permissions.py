"""The permission table: every method listed, admin everywhere, denials that name the role."""

from __future__ import annotations

from kiln.machinery import permissions
from kiln.machinery.api import machine_pb2, resource_pb2, security_pb2
from kiln.machinery.roles import Role


def every_method() -> set[str]:
    found = set()
    for module in (machine_pb2, resource_pb2, security_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            found |= {f"/{service.full_name}/{method.name}" for method in service.methods}
    return found


def test_every_method_of_every_service_is_in_the_table_and_nothing_else() -> None:
    assert set(permissions.PERMISSIONS) == every_method()


def test_admin_may_call_everything_but_the_trust_port() -> None:
    for method, permission in permissions.PERMISSIONS.items():
        verdict = permissions.check(method, frozenset({Role.ADMIN}))
        assert verdict.allowed is not permission.trust, method


def test_the_trust_port_serves_certificates_to_no_role() -> None:
    certificate = permissions.SECURITY + "Certificate"
    assert permissions.is_served_on_trust_port(certificate)
    assert not permissions.is_served_on_trust_port(permissions.MACHINE + "Version")
    verdict = permissions.check(certificate, frozenset(Role))
    assert not verdict.allowed and "trust port" in verdict.reason


def test_maintenance_mode_serves_apply_version_and_hardware() -> None:
    assert sorted(permissions.MAINTENANCE_METHODS) == [
        "ApplyConfiguration",
        "Hardware",
        "Version",
    ]


def test_a_denial_names_the_least_privileged_role_that_would_do() -> None:
    reboot = permissions.MACHINE + "Reboot"
    verdict = permissions.check(reboot, frozenset({Role.READER}))
    assert not verdict.allowed
    assert "needs role os:operator (or os:admin)" in verdict.reason
    assert "grants os:reader" in verdict.reason
    snapshot = permissions.check(permissions.MACHINE + "EtcdSnapshot", frozenset({Role.READER}))
    assert "needs role os:etcd:backup" in snapshot.reason


def test_unknown_methods_and_certificates_without_roles_are_denied() -> None:
    unknown = permissions.check("/kiln.machine.v1alpha1.MachineService/Nope", frozenset(Role))
    assert not unknown.allowed and "not in the permission table" in unknown.reason
    nobody = permissions.check(permissions.MACHINE + "Version", frozenset())
    assert not nobody.allowed and "grants no role" in nobody.reason


def test_operators_do_day_two_work_but_not_config_or_reset() -> None:
    operator = frozenset({Role.OPERATOR})
    allowed = {
        name.rsplit("/", 1)[1]
        for name in permissions.PERMISSIONS
        if permissions.check(name, operator).allowed
    }
    assert {"Reboot", "ServiceRestart", "EtcdSnapshot", "EtcdForfeitLeadership"} <= allowed
    assert not {"ApplyConfiguration", "Reset", "Bootstrap", "ConfirmConfiguration"} & allowed


def test_etcd_backup_gets_snapshots_and_the_version_only() -> None:
    backup = frozenset({Role.ETCD_BACKUP})
    allowed = {
        name.rsplit("/", 1)[1]
        for name in permissions.PERMISSIONS
        if permissions.check(name, backup).allowed
    }
    assert allowed == {"EtcdSnapshot", "Version"}
