"""Workers get their API certificate from a control-plane node for the machine token, and never
hold the OS CA key; a wrong token gets nothing."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from cryptography.x509 import DNSName, ExtendedKeyUsage, SubjectAlternativeName
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fleet import Fleet, served_certificate, started
from machined_cluster import eventually, machine_status, wait_running

from kiln.machined.node.certify import signing_request
from kiln.machined.testing import NodeProcess
from kiln.machinery.api import machine_pb2, machine_pb2_grpc, security_pb2, security_pb2_grpc
from kiln.machinery.config import StrategicPatch, apply_patches
from kiln.machinery.secrets import KeyAlgorithm, KeyPair

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

WORKER_NAME = "worker.example.com"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fleet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    """A control-plane node on .1 and a worker on .3 that joined through it, with a name of
    its own in its config's certSANs."""
    fleet = Fleet(tmp_path_factory.mktemp("workers"))
    named = StrategicPatch("test", ({"machine": {"certSANs": [WORKER_NAME]}},))
    fleet.configs = replace(fleet.configs, worker=apply_patches(fleet.configs.worker, [named]))
    controlplane, worker = fleet.node(1, "cp"), fleet.node(3, "worker")
    async with started(controlplane, worker):
        await fleet.join(controlplane)
        await fleet.join(worker, worker=True)
        fleet.nodes = {"cp": controlplane, "worker": worker}  # type: ignore[attr-defined]
        yield fleet


def node(fleet: Fleet, name: str) -> NodeProcess:
    found: NodeProcess = fleet.nodes[name]  # type: ignore[attr-defined]
    return found


def trust_channel(fleet: Fleet) -> grpc.aio.Channel:
    """A channel to the control-plane node's trust port, trusting the OS CA, no client cert."""
    credentials = grpc.ssl_channel_credentials(fleet.bundle.os_ca.certificate.pem)
    return grpc.aio.secure_channel(f"{fleet.address(1)}:{fleet.trust_port}", credentials)


async def test_the_worker_serves_a_certificate_from_the_os_ca(fleet: Fleet) -> None:
    worker = node(fleet, "worker")
    served = await served_certificate(worker)
    served.verify_directly_issued_by(fleet.bundle.os_ca.certificate.x509())
    usages = served.extensions.get_extension_for_class(ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not served.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    names = served.extensions.get_extension_for_class(SubjectAlternativeName).value
    assert WORKER_NAME in names.get_values_for_type(DNSName)  # the config's certSANs
    found = await machine_status(fleet, worker)
    assert found.resource.spec.ready and found.node == worker.host
    assert "signed by the control-plane node" in worker.output()


async def test_the_worker_holds_no_ca_key(fleet: Fleet) -> None:
    key_b64 = fleet.bundle.certs.os.key
    key_pem = base64.b64decode(key_b64)
    worker = node(fleet, "worker")
    files = [path for path in worker.state_dir.rglob("*") if path.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        assert key_b64.encode() not in data and key_pem not in data, path


async def test_a_wrong_machine_token_gets_no_certificate(fleet: Fleet) -> None:
    csr = signing_request(KeyPair.generate(KeyAlgorithm.ECDSA_P256), ["worker-9", "127.0.0.9"])
    async with trust_channel(fleet) as channel:
        stub = security_pb2_grpc.SecurityServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Certificate(security_pb2.CertificateRequest(csr=csr, token="x" * 32))
        assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "machine token" in (refused.value.details() or "")

        token = fleet.configs.worker.machine_config.machine.token
        wildcard = signing_request(KeyPair.generate(KeyAlgorithm.ECDSA_P256), ["*.example.org"])
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Certificate(security_pb2.CertificateRequest(csr=wildcard, token=token))
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT

        answer = await stub.Certificate(security_pb2.CertificateRequest(csr=csr, token=token))
        assert answer.ca == fleet.bundle.os_ca.certificate.pem and answer.crt

        # The trust port serves nothing else.
        machine = machine_pb2_grpc.MachineServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await machine.Version(machine_pb2.VersionRequest())
        assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def test_a_worker_waits_for_its_control_plane_node(tmp_path: Path) -> None:
    """The worker's control plane comes up after it: it keeps asking, then joins."""
    fleet = Fleet(tmp_path)
    controlplane, worker = fleet.node(1, "cp"), fleet.node(4, "worker")
    async with started(worker):
        await fleet.apply(worker, worker=True)
        await eventually(
            lambda: _output(worker), lambda text: "no API certificate yet" in text, within=20
        )
        async with started(controlplane):
            await fleet.join(controlplane)
            await wait_running(fleet, worker)
    assert "API certificate signed by the control-plane node" in worker.output()


async def _output(node: NodeProcess) -> str:
    return node.output()
