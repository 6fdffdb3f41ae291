"""The role matrix, method by method, against a real configured node: a denied call gets
PERMISSION_DENIED naming the role it needs; an allowed one gets anything else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from machined_cluster import Cluster, configure, machine_status, wait_rebooted

from kiln.machined.testing import NodeProcess
from kiln.machinery.api import machine_pb2, machine_pb2_grpc, resource_pb2, resource_pb2_grpc
from kiln.machinery.roles import Role
from kiln.machinery.secrets import Usage

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ADM, OPR, RDR, BAK = Role.ADMIN, Role.OPERATOR, Role.READER, Role.ETCD_BACKUP
READ = {ADM, OPR, RDR}
# Written from the issue, independently of the server's table.
EXPECTED: dict[str, set[Role]] = {
    "MachineService/ApplyConfiguration": {ADM},
    "MachineService/ConfirmConfiguration": {ADM},
    "MachineService/Bootstrap": {ADM},
    "MachineService/Reboot": {ADM, OPR},
    "MachineService/Shutdown": {ADM, OPR},
    "MachineService/Reset": {ADM},
    "MachineService/Upgrade": {ADM},  # refused after the check: no manifest, no A/B slots
    "MachineService/Rollback": {ADM},
    "MachineService/ServiceList": READ,
    "MachineService/ServiceStart": {ADM, OPR},
    "MachineService/ServiceStop": {ADM, OPR},
    "MachineService/ServiceRestart": {ADM, OPR},
    "MachineService/Logs": READ,
    "MachineService/Events": READ,
    "MachineService/Version": {ADM, OPR, RDR, BAK},
    "MachineService/Hardware": READ,
    "MachineService/EtcdMemberList": READ,
    "MachineService/EtcdRemoveMember": {ADM},
    "MachineService/EtcdLeaveCluster": {ADM},
    "MachineService/EtcdForfeitLeadership": {ADM, OPR},
    "MachineService/EtcdStatus": READ,
    "MachineService/EtcdSnapshot": {ADM, OPR, BAK},
    "MachineService/EtcdDefragment": {ADM, OPR},
    "MachineService/Kubeconfig": {ADM},
    "ResourceService/Get": READ,
    "ResourceService/List": READ,
    "ResourceService/Watch": READ,
    "ResourceService/Definitions": READ,
}
LEAST_FIRST = (BAK, RDR, OPR, ADM)
DESTRUCTIVE = {"MachineService/Reboot", "MachineService/Shutdown", "MachineService/Reset"}

# Requests that cannot change the node when they are allowed.
REQUESTS: dict[str, Any] = {
    "ApplyConfiguration": machine_pb2.ApplyConfigurationRequest(data=b"machine: [", dry_run=True),
    "ServiceStart": machine_pb2.ServiceRequest(id="no-such-service"),
    "ServiceStop": machine_pb2.ServiceRequest(id="no-such-service"),
    "ServiceRestart": machine_pb2.ServiceRequest(id="no-such-service"),
    "Logs": machine_pb2.LogsRequest(id="machined", tail_lines=1),
    "Events": machine_pb2.EventsRequest(tail_events=1),
    "Get": resource_pb2.GetRequest(type="machinestatus", id="machine"),
    "List": resource_pb2.ListRequest(type="services"),
    "Watch": resource_pb2.WatchRequest(type="machinestatus"),
    "ResetRequest": machine_pb2.ResetRequest(graceful=False),
    # Refused as a bad request, after the permission check: the node makes no etcd cluster.
    "Bootstrap": machine_pb2.BootstrapRequest(recover_skip_hash_check=True),
}


def all_methods() -> list[str]:
    names = []
    for module in (machine_pb2, resource_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            names += [f"{service.name}/{method.name}" for method in service.methods]
    return names


async def test_the_expected_matrix_lists_every_method() -> None:
    assert sorted(EXPECTED) == sorted(all_methods())


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(
    tmp_path_factory: pytest.TempPathFactory, cluster: Cluster
) -> AsyncIterator[NodeProcess]:
    async with NodeProcess(tmp_path_factory.mktemp("roles") / "node") as node:
        await configure(cluster, node)
        yield node


def credentials(cluster: Cluster, organization: str) -> grpc.ChannelCredentials:
    issued = cluster.bundle.os_ca.issue(
        organization, Usage.CLIENT, timedelta(days=1), organizations=[organization]
    )
    ca = cluster.bundle.os_ca.certificate.pem
    return grpc.ssl_channel_credentials(ca, issued.key.pem, issued.certificate.pem)


async def call(channel: grpc.aio.Channel, method: str) -> tuple[grpc.StatusCode, str]:
    """Call ``Service/Method`` with a harmless request; its status code and details."""
    service, name = method.split("/")
    if service == "MachineService":
        stub: Any = machine_pb2_grpc.MachineServiceStub(channel)
        descriptor = machine_pb2.DESCRIPTOR.services_by_name[service].methods_by_name[name]
        module: Any = machine_pb2
    else:
        stub = resource_pb2_grpc.ResourceServiceStub(channel)
        descriptor = resource_pb2.DESCRIPTOR.services_by_name[service].methods_by_name[name]
        module = resource_pb2
    request = REQUESTS.get(name) or getattr(module, descriptor.input_type.name)()
    try:
        if descriptor.client_streaming:
            await getattr(stub, name)(_one(request), timeout=10)
        elif descriptor.server_streaming:
            stream = getattr(stub, name)(request, timeout=10)
            async for _ in stream:
                break
            stream.cancel()
        else:
            await getattr(stub, name)(request, timeout=10)
    except grpc.aio.AioRpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


async def _one(request: Any) -> AsyncIterator[Any]:
    yield request


def check(method: str, role: Role, code: grpc.StatusCode, details: str) -> None:
    allowed = EXPECTED[method]
    if role in allowed:
        assert code is not grpc.StatusCode.PERMISSION_DENIED, f"{role} denied {method}: {details}"
        return
    needed = next(r for r in LEAST_FIRST if r in allowed)
    assert code is grpc.StatusCode.PERMISSION_DENIED, f"{role} got {code} for {method}"
    assert f"needs role {needed.value}" in details
    assert role.value in details


@pytest.mark.parametrize("role", [ADM, OPR, RDR, BAK], ids=lambda role: role.value)
async def test_every_method_for_every_role(
    cluster: Cluster, shared: NodeProcess, role: Role
) -> None:
    async with grpc.aio.secure_channel(shared.endpoint, credentials(cluster, role.value)) as ch:
        for method in sorted(set(EXPECTED) - DESTRUCTIVE):
            code, details = await call(ch, method)
            check(method, role, code, details)
        for method in sorted(DESTRUCTIVE):
            if role in EXPECTED[method]:
                continue  # run below, one at a time, with the node brought back after each
            code, details = await call(ch, method)
            check(method, role, code, details)


@pytest.mark.parametrize(
    ("method", "role"),
    [(m, r) for m in sorted(DESTRUCTIVE) for r in (ADM, OPR) if r in EXPECTED[m]],
    ids=str,
)
async def test_destructive_methods_for_the_roles_allowed(
    cluster: Cluster, shared: NodeProcess, method: str, role: Role
) -> None:
    before = await machine_status(cluster, shared)
    async with grpc.aio.secure_channel(shared.endpoint, credentials(cluster, role.value)) as ch:
        code, details = await call(ch, method)
    assert code is grpc.StatusCode.OK, details
    if method.endswith("Shutdown"):
        assert await shared.wait() == 0
        await shared.start()
    elif method.endswith("Reset"):
        await configure(cluster, shared)
    await wait_rebooted(cluster, shared, before)


async def test_a_certificate_without_a_known_role_gets_nothing(
    cluster: Cluster, shared: NodeProcess
) -> None:
    async with grpc.aio.secure_channel(shared.endpoint, credentials(cluster, "os:nobody")) as ch:
        for method in ("MachineService/Version", "ResourceService/Get"):
            code, details = await call(ch, method)
            assert code is grpc.StatusCode.PERMISSION_DENIED
            assert "grants no role" in details


async def test_readers_and_operators_see_the_machine_config_redacted(
    cluster: Cluster, shared: NodeProcess
) -> None:
    secret = cluster.controlplane.machine_config.machine.token
    for role, redacted in ((RDR, True), (OPR, True), (ADM, False)):
        async with cluster.client(shared, role) as api:
            (found,) = await api.get("machineconfig")
        text = found.resource.spec.model_dump_json()
        assert (secret in text) is not redacted, role
        assert ("******" in text) is redacted, role
        assert found.resource.spec.documents[0]["machine"]["ca"]["crt"]


async def test_a_certificate_from_another_os_ca_fails_the_handshake(
    cluster: Cluster, shared: NodeProcess, tmp_path: Path
) -> None:
    other = Cluster()
    stranger = other.bundle.os_ca.issue(
        "admin", Usage.CLIENT, timedelta(days=1), organizations=[Role.ADMIN.value]
    )
    ca = cluster.bundle.os_ca.certificate.pem
    creds = grpc.ssl_channel_credentials(ca, stranger.key.pem, stranger.certificate.pem)
    async with grpc.aio.secure_channel(shared.endpoint, creds) as channel:
        code, _ = await call(channel, "MachineService/Version")
    assert code is grpc.StatusCode.UNAVAILABLE
