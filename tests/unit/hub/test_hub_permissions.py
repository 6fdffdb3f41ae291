"""The hub's permission table covers every method of its services, and nothing else."""

from __future__ import annotations

from kiln.hub.auth import permissions
from kiln.hub.auth.roles import HubRole
from kiln.machinery import permissions as machine_permissions
from kiln.machinery.api import hub_pb2, hubcluster_pb2, hublink_pb2


def test_every_method_of_every_hub_service_is_in_the_table() -> None:
    methods = {
        f"/{service.full_name}/{method.name}"
        for module in (hub_pb2, hubcluster_pb2, hublink_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert methods == set(permissions.PERMISSIONS)


def test_changes_are_mutating_and_reads_are_not() -> None:
    for method, permission in permissions.PERMISSIONS.items():
        name = method.rsplit("/", 1)[1]
        changes = name.startswith(("Create", "Revoke", "Label", "Join", "Set", "Sync", "Delete"))
        issues_credentials = name == "Kubeconfig"
        assert permission.mutating == (changes or issues_credentials), method


def test_admin_may_call_every_method_that_takes_a_key() -> None:
    for method in permissions.PERMISSIONS:
        if permissions.needs_api_key(method):
            assert permissions.denial(method, HubRole.ADMIN) is None


def test_a_denial_names_the_least_role_needed() -> None:
    create_key = permissions.HUB + "CreateApiKey"
    reason = permissions.denial(create_key, HubRole.OPERATOR)
    assert reason is not None and "needs role admin" in reason and "role operator" in reason
    label = permissions.HUB + "LabelMachine"
    assert "needs role operator" in (permissions.denial(label, HubRole.READER) or "")
    assert permissions.denial("/unknown.Service/Call", HubRole.ADMIN) is not None
    assert permissions.needs_api_key("/unknown.Service/Call")


def test_roles_parse_by_name() -> None:
    assert HubRole.parse("Infra_Provider") is HubRole.INFRA_PROVIDER
    assert HubRole.parse("infraprovider") is HubRole.INFRA_PROVIDER
    assert HubRole.parse("admin") is HubRole.ADMIN


def test_relayed_machine_calls_follow_the_nodes_table_by_role() -> None:
    machine = machine_permissions.MACHINE
    assert permissions.denial(machine + "Version", HubRole.READER) is None
    assert permissions.denial(machine + "ServiceRestart", HubRole.OPERATOR) is None
    refused = permissions.denial(machine + "EtcdDefragment", HubRole.READER)
    assert refused == (
        "kiln.machine.v1alpha1.MachineService/EtcdDefragment needs role operator or higher on "
        "the hub; the API key has role reader"
    )
    assert "needs role admin" in (permissions.denial(machine + "Reset", HubRole.OPERATOR) or "")
    assert "needs role admin" in (
        permissions.denial(machine + "Kubeconfig", HubRole.OPERATOR) or ""
    )
    infra = permissions.denial(machine_permissions.RESOURCE + "List", HubRole.INFRA_PROVIDER)
    assert "needs role reader" in (infra or "")
    certificate = machine_permissions.SECURITY + "Certificate"  # the trust port's: never relayed
    assert not permissions.is_relayed(certificate)
    assert permissions.denial(certificate, HubRole.ADMIN) is not None


def test_relayed_calls_a_reader_may_not_make_are_audited() -> None:
    for method in machine_permissions.PERMISSIONS:
        if not permissions.is_relayed(method):
            continue
        reader_may = permissions.denial(method, HubRole.READER) is None
        assert permissions.needs_api_key(method)
        assert permissions.is_mutating(method) is not reader_may, method
    assert permissions.is_mutating(machine_permissions.MACHINE + "Reboot")
    assert not permissions.is_mutating(machine_permissions.RESOURCE + "Watch")
