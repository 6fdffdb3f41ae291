"""Fixtures for machine config tests: real CA certificates and keys, valid config documents."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

Doc = dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _key_pem(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return _b64(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _ca(name: str, key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> Doc:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    return {"crt": _b64(cert.public_bytes(serialization.Encoding.PEM)), "key": _key_pem(key)}


@pytest.fixture(scope="session")
def pki() -> dict[str, Doc]:
    """CAs as in a real cluster: Ed25519 for the machine API, ECDSA P-256 for Kubernetes."""
    return {
        "machine": _ca("kiln", ed25519.Ed25519PrivateKey.generate()),
        "kubernetes": _ca("kubernetes", ec.generate_private_key(ec.SECP256R1())),
        "aggregator": _ca("front-proxy", ec.generate_private_key(ec.SECP256R1())),
        "etcd": _ca("etcd", ec.generate_private_key(ec.SECP256R1())),
        "service_account": {"key": _key_pem(ec.generate_private_key(ec.SECP256R1()))},
    }


def _controlplane(pki: dict[str, Doc]) -> Doc:
    return {
        "apiVersion": "kiln.dev/v1alpha1",
        "kind": "MachineConfig",
        "machine": {
            "type": "controlplane",
            "token": "m4ch1ne-t0ken-0123456789",
            "ca": dict(pki["machine"]),
            "certSANs": ["10.0.0.10", "cp.example.com"],
            "install": {"disk": "/dev/sda", "image": "ghcr.io/kiln/installer:v0.1.0"},
            "network": {
                "hostname": "cp-1",
                "interfaces": [
                    {
                        "name": "eth0",
                        "addresses": ["10.0.0.10/24", "fd00::10/64"],
                        "routes": [{"network": "0.0.0.0/0", "gateway": "10.0.0.1"}],
                    }
                ],
                "nameservers": ["1.1.1.1"],
            },
            "sysctls": {"net.ipv4.ip_forward": "1"},
        },
        "cluster": {
            "id": "Zm9vYmFyYmF6cXV4",
            "secret": "c2VjcmV0LXNlY3JldC1zZWNyZXQ=",
            "name": "demo",
            "controlPlane": {"endpoint": "https://10.0.0.10:6443"},
            "ca": dict(pki["kubernetes"]),
            "aggregatorCA": dict(pki["aggregator"]),
            "serviceAccount": dict(pki["service_account"]),
            "token": "abcdef.0123456789abcdef",
            "secretboxEncryptionSecret": _b64(bytes(range(32))),
            "etcd": {"ca": dict(pki["etcd"])},
        },
    }


def _worker(pki: dict[str, Doc]) -> Doc:
    doc = _controlplane(pki)
    doc["machine"]["type"] = "worker"
    doc["machine"]["ca"] = {"crt": pki["machine"]["crt"]}
    doc["machine"]["network"]["hostname"] = "worker-1"
    doc["machine"]["network"]["interfaces"][0]["addresses"] = ["10.0.0.20/24"]
    cluster = doc["cluster"]
    cluster["ca"] = {"crt": pki["kubernetes"]["crt"]}
    for key in ("aggregatorCA", "serviceAccount", "secretboxEncryptionSecret", "etcd"):
        del cluster[key]
    return doc


HUB_JOIN: Doc = {
    "apiVersion": "kiln.dev/v1alpha1",
    "kind": "HubJoinConfig",
    "url": "https://hub.example.com",
    "joinToken": "join-token-0123456789",
}


@pytest.fixture(scope="session")
def base_controlplane(pki: dict[str, Doc]) -> Doc:
    """A valid controlplane MachineConfig document (do not modify: use ``controlplane``)."""
    return _controlplane(pki)


@pytest.fixture(scope="session")
def base_worker(pki: dict[str, Doc]) -> Doc:
    """A valid worker MachineConfig document (do not modify: use ``worker``)."""
    return _worker(pki)


@pytest.fixture
def controlplane(base_controlplane: Doc) -> Doc:
    return copy.deepcopy(base_controlplane)


@pytest.fixture
def worker(base_worker: Doc) -> Doc:
    return copy.deepcopy(base_worker)


@pytest.fixture
def hub_join() -> Doc:
    return copy.deepcopy(HUB_JOIN)
