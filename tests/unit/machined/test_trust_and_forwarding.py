"""The parts of forwarding and worker certificates: which names a CSR may ask for, what the
control plane signs and the worker accepts, where a call goes, which answers merge, how the
client reads failed nodes, and the machine status of a node that waits."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kiln.machined.api.forward import ForwardInterceptor, ForwardPolicy, OwnAddresses
from kiln.machined.api.security_service import (
    MAX_NAMES,
    SecurityService,
    parse_request,
    requested_names,
)
from kiln.machined.controllers.runtime.machine_status import MachineStatusController
from kiln.machined.errors import AccessDeniedError, CertificateRequestError, InvalidRequestError
from kiln.machined.node.certify import check_issued, signing_request
from kiln.machinery import permissions
from kiln.machinery.api import common_pb2, machine_pb2, security_pb2
from kiln.machinery.client import NodeErrors
from kiln.machinery.client.errors import check_answers
from kiln.machinery.node_answers import mergeable, response_class
from kiln.machinery.resources import MachineStatusSpec, Stage
from kiln.machinery.resources.runtime import machine_stage, machine_status
from kiln.machinery.secrets import CertificateAuthority, KeyAlgorithm, KeyPair
from kiln.resources import Pointer
from kiln.resources.testing import ControllerHarness

TOKEN = "t" * 32


@pytest.fixture(scope="module")
def authority() -> CertificateAuthority:
    return CertificateAuthority.generate("kiln", KeyAlgorithm.ED25519)


def csr_for(*names: str, key: KeyPair | None = None) -> bytes:
    return signing_request(key or KeyPair.generate(KeyAlgorithm.ECDSA_P256), names)


class Peer:
    def peer(self) -> str:
        return "ipv4:127.0.0.9:40000"


async def sign(authority: CertificateAuthority, csr: bytes, token: str = TOKEN) -> Any:
    service = SecurityService(authority, TOKEN)
    return await service.Certificate(security_pb2.CertificateRequest(csr=csr, token=token), Peer())


def test_a_request_asks_for_hostnames_and_addresses_only() -> None:
    csr = parse_request(csr_for("Worker-1", "127.0.0.3", "fd00::3"))
    assert requested_names(csr) == (["worker-1"], ["127.0.0.3", "fd00::3"])
    for names, problem in (
        (["*.example.org"], "wildcard"),
        (["bad_name"], "not a hostname"),
        ([f"n{i}.example.org" for i in range(MAX_NAMES + 1)], "more than"),
    ):
        with pytest.raises(InvalidRequestError, match=problem):
            requested_names(parse_request(csr_for(*names)))
    with pytest.raises(InvalidRequestError, match="not a PEM"):
        parse_request(b"-----BEGIN CERTIFICATE REQUEST-----\nnope\n")


def test_unspecified_addresses_and_requests_without_names_are_refused() -> None:
    key = KeyPair.generate(KeyAlgorithm.ECDSA_P256).private_key()
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "w")])
    )
    bare = builder.sign(key, hashes.SHA256())
    with pytest.raises(InvalidRequestError, match="names no address"):
        requested_names(bare)
    unspecified = builder.add_extension(
        x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("0.0.0.0"))]), False
    ).sign(key, hashes.SHA256())
    with pytest.raises(InvalidRequestError, match="not an address"):
        requested_names(unspecified)


async def test_the_token_gets_a_server_certificate_without_a_role(
    authority: CertificateAuthority,
) -> None:
    key = KeyPair.generate(KeyAlgorithm.ECDSA_P256)
    answer = await sign(authority, csr_for("worker-1", "127.0.0.3", key=key))
    assert answer.ca == authority.certificate.pem
    check_issued(answer.crt, key, answer.ca, "cp")
    issued = x509.load_pem_x509_certificate(answer.crt)
    usages = issued.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not issued.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert issued.not_valid_after_utc - issued.not_valid_before_utc > timedelta(days=300)

    with pytest.raises(CertificateRequestError, match="another key"):
        check_issued(answer.crt, KeyPair.generate(KeyAlgorithm.ECDSA_P256), answer.ca, "cp")
    other = CertificateAuthority.generate("other", KeyAlgorithm.ED25519)
    with pytest.raises(CertificateRequestError, match="bad certificate"):
        check_issued(answer.crt, key, other.certificate.pem, "cp")


async def test_a_wrong_token_or_key_type_gets_nothing(authority: CertificateAuthority) -> None:
    with pytest.raises(AccessDeniedError, match="machine token"):
        await sign(authority, csr_for("worker-1"), token="w" * 32)
    edwards = ed25519.Ed25519PrivateKey.generate()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "w")]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("w")]), False)
        .sign(edwards, None)
    )
    with pytest.raises(InvalidRequestError, match="ECDSA P-256"):
        await sign(authority, csr.public_bytes(serialization.Encoding.PEM))


def test_calls_go_to_each_named_node_once_and_this_one_locally() -> None:
    own = OwnAddresses(50000, frozenset({"127.0.0.2"}))
    interceptor = ForwardInterceptor(ForwardPolicy(own, None))
    targets = interceptor._targets(["127.0.0.2", "127.0.0.3:50001", "127.0.0.2:50000"])
    assert [(t.label, t.address, t.local) for t in targets] == [
        ("127.0.0.2", "127.0.0.2:50000", True),
        ("127.0.0.3:50001", "127.0.0.3:50001", False),
    ]
    with pytest.raises(InvalidRequestError, match="nodes"):
        interceptor._targets(["127.0.0.3:x"])


def test_answers_of_repeated_messages_merge_and_others_do_not() -> None:
    assert mergeable(response_class(permissions.MACHINE + "Version"))
    assert mergeable(response_class(permissions.MACHINE + "Reboot"))
    assert not mergeable(response_class(permissions.MACHINE + "Logs"))
    assert not mergeable(response_class(permissions.RESOURCE + "Definitions"))


def test_the_client_raises_for_failed_nodes_with_what_others_answered() -> None:
    reply = machine_pb2.VersionResponse(
        messages=[
            machine_pb2.Version(metadata=common_pb2.Metadata(node="a")),
            machine_pb2.Version(metadata=common_pb2.Metadata(node="b", error="down", code=14)),
        ]
    )
    with pytest.raises(NodeErrors) as failed:
        check_answers(reply)
    assert [m.metadata.node for m in failed.value.answered] == ["a"]
    assert (failed.value.code, failed.value.lines()) == ("UNAVAILABLE", ["b: down"])
    check_answers(machine_pb2.VersionResponse(messages=reply.messages[:1]))


async def test_what_a_node_waits_for_is_unmet() -> None:
    status = Pointer.of(MachineStatusSpec, machine_status.ID)
    async with ControllerHarness(MachineStatusController()) as harness:
        waiting = "an API certificate from a control-plane node: refused"
        await harness.state.create(machine_stage.new(Stage.BOOTING, "boot", waiting))
        found = await harness.wait_for(status, lambda r: len(r.spec.unmet_conditions) == 3)
    assert found.spec.unmet_conditions[:2] == ["the machine is booting", f"waiting for {waiting}"]
