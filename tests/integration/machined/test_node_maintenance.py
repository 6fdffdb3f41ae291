"""Maintenance mode: anyone may apply a config, read the version and the hardware, and nothing
else; once configured, only mutual TLS with the cluster's OS CA gets in."""

from __future__ import annotations

import grpc
import pytest
from machined_cluster import Cluster, insecure, wait_running

from kiln.machined.testing import NodeProcess
from kiln.machinery.api import machine_pb2, machine_pb2_grpc
from kiln.machinery.applymode import ApplyMode
from kiln.machinery.client import ClientError

pytestmark = pytest.mark.integration


async def test_maintenance_serves_version_hardware_and_apply_only(node: NodeProcess) -> None:
    async with insecure(node) as api:
        (version,) = await api.version()
        assert version.maintenance
        assert version.metadata.node == "127.0.0.1"
        (hardware,) = await api.hardware()
        assert hardware.cpus > 0 and hardware.uuid and hardware.platform == "container"
        for call in (api.service_list(), api.get("machinestatus"), api.reboot(), api.reset()):
            with pytest.raises(ClientError) as refused:
                await call
            assert refused.value.code == "FAILED_PRECONDITION"
            assert "maintenance mode" in str(refused.value)


async def test_maintenance_refuses_staged_or_try(cluster: Cluster, node: NodeProcess) -> None:
    async with insecure(node) as api:
        for mode in (ApplyMode.STAGED, ApplyMode.TRY):
            with pytest.raises(ClientError) as refused:
                await api.apply_configuration(cluster.controlplane.to_yaml().encode(), mode)
            assert refused.value.code == "FAILED_PRECONDITION"
        (version,) = await api.version()
        assert version.maintenance


async def test_after_apply_only_mutual_tls_with_the_os_ca(
    cluster: Cluster, node: NodeProcess
) -> None:
    async with insecure(node) as api:
        (applied,) = await api.apply_configuration(cluster.controlplane.to_yaml().encode())
    assert "maintenance" in applied.mode_details
    assert "+kind: MachineConfig" in applied.diff
    assert "key: '******'" in applied.diff  # the diff is redacted
    await wait_running(cluster, node)

    with pytest.raises(ClientError) as refused:  # the client sees a configured node
        async with insecure(node) as api:
            await api.version()
    assert "not in maintenance mode" in str(refused.value)

    # A raw insecure attempt, trusting the node's certificate but with no client certificate:
    # the handshake is refused.
    async with cluster.client(node) as api:
        (version,) = await api.version()
    assert not version.maintenance
    ca = cluster.bundle.os_ca.certificate.pem
    async with grpc.aio.secure_channel(node.endpoint, grpc.ssl_channel_credentials(ca)) as channel:
        stub = machine_pb2_grpc.MachineServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await stub.Version(machine_pb2.VersionRequest(), timeout=10)
    assert failed.value.code() is grpc.StatusCode.UNAVAILABLE

    # A certificate from another cluster's OS CA is refused at the handshake.
    other = Cluster()
    with pytest.raises(ClientError) as foreign:
        async with other.client(node) as api:
            await api.version()
    assert foreign.value.code == "UNAVAILABLE"
