"""Certificates from the OS CA must work for the machine API's real gRPC mutual TLS."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from kiln.machinery.api import machine_pb2, machine_pb2_grpc
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle, Usage, issue_client_certificate


class _EchoRole(machine_pb2_grpc.MachineServiceServicer):
    """Answers Version with the Organization of the client's certificate."""

    async def Version(
        self, request: machine_pb2.VersionRequest, context: grpc.aio.ServicerContext
    ) -> machine_pb2.VersionResponse:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        pem = context.auth_context()["x509_pem_cert"][0]
        subject = x509.load_pem_x509_certificate(pem).subject
        org = subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
        info = machine_pb2.VersionInfo(tag=str(org))
        return machine_pb2.VersionResponse(messages=[machine_pb2.Version(version=info)])


@pytest.fixture(scope="module")
def bundle() -> SecretsBundle:
    return SecretsBundle.generate()


async def test_mutual_tls_with_the_os_ca(bundle: SecretsBundle) -> None:
    os_ca = bundle.os_ca
    server = os_ca.issue("node", Usage.SERVER, timedelta(days=1), ip_addresses=["127.0.0.1"])
    client = issue_client_certificate(os_ca, Role.OPERATOR)
    ca_pem = os_ca.certificate.pem

    srv = grpc.aio.server()
    machine_pb2_grpc.add_MachineServiceServicer_to_server(_EchoRole(), srv)
    credentials = grpc.ssl_server_credentials(
        [(server.key.pem, server.certificate.pem)],
        root_certificates=ca_pem,
        require_client_auth=True,
    )
    port = srv.add_secure_port("127.0.0.1:0", credentials)
    await srv.start()
    try:
        channel_creds = grpc.ssl_channel_credentials(ca_pem, client.key.pem, client.certificate.pem)
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", channel_creds) as channel:
            stub = machine_pb2_grpc.MachineServiceStub(channel)
            reply = await stub.Version(machine_pb2.VersionRequest(), timeout=10)
        assert reply.messages[0].version.tag == Role.OPERATOR.value

        stranger = SecretsBundle.generate().os_ca
        foreign = issue_client_certificate(stranger, Role.ADMIN)
        foreign_creds = grpc.ssl_channel_credentials(
            ca_pem, foreign.key.pem, foreign.certificate.pem
        )
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", foreign_creds) as channel:
            stub = machine_pb2_grpc.MachineServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.Version(machine_pb2.VersionRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await srv.stop(None)
