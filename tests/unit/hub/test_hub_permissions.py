"""The hub's permission table covers every method of its services, and nothing else."""

from __future__ import annotations

from kiln.hub.auth import permissions
from kiln.hub.auth.roles import HubRole
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
        assert permission.mutating == changes, method


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
