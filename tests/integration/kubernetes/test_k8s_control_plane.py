"""A real Kubernetes v1.20.2 control plane on a container-mode node: etcd bootstrapped,
kube-apiserver ready, controller-manager and scheduler healthy and leading, secrets encrypted
at rest, node CIDRs allocated and kubelet CSRs signed, kubectl working with the kubeconfig
kilnctl gets, a tampered binary refused."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import random
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from k8s_release import VERSION
from machined_cluster import eventually
from machined_etcd import TEST_EXTRA_ARGS, EtcdCluster, configure, etcd_client, kilnctl

from kiln import process
from kiln.machined.testing import NodeProcess
from kiln.machinery.api import machine_pb2
from kiln.machinery.config import MachineConfig

pytestmark = pytest.mark.integration

CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
READY_WITHIN = 240.0  # a cold apiserver on 2 busy cores
KUBECTL = shutil.which("kubectl")
OTHER_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: other, cluster: {server: "https://192.0.2.1:6443"}}]
users: [{name: other, user: {token: secret}}]
contexts: [{name: other, context: {cluster: other, user: other}}]
current-context: other
"""


def address() -> str:
    """A loopback address of this suite's range (127.111.0.0/16)."""
    return f"127.111.{random.randrange(0, 256)}.{random.randrange(2, 255)}"


class KubernetesCluster(EtcdCluster):
    """Configs that run ``VERSION`` from the local build."""

    def __init__(self, first_address: str, release: Path) -> None:
        super().__init__(first_address)
        self.release = release

    def config(self, hostname: str) -> bytes:
        documents = self.controlplane.to_documents()
        documents[0]["machine"].setdefault("network", {})["hostname"] = hostname
        documents[0]["cluster"]["etcd"]["extraArgs"] = TEST_EXTRA_ARGS
        documents[0]["cluster"]["kubernetes"] = {
            "version": VERSION,
            "artifacts": {"source": "local", "path": str(self.release)},
        }
        return MachineConfig.from_documents(documents).to_yaml().encode()


async def services(cluster: EtcdCluster, node: NodeProcess) -> dict[str, machine_pb2.ServiceStatus]:
    async with cluster.client(node) as api:
        (listing,) = await api.service_list()
    return {service.id: service for service in listing.services}


def healthy(found: dict[str, machine_pb2.ServiceStatus], names: tuple[str, ...]) -> bool:
    return all(
        name in found and found[name].state == "running" and found[name].health == "healthy"
        for name in names
    )


async def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    assert KUBECTL is not None
    argv = [KUBECTL, "--kubeconfig", str(kubeconfig), *args]
    given = None if stdin is None else stdin.encode()
    done = await process.run(argv, env={"HOME": str(kubeconfig.parent)}, timeout=60, input=given)
    return done.stdout.decode()


def kubelet_csr(node: str) -> str:
    """A CertificateSigningRequest for a kubelet's client certificate, as TLS bootstrap makes."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node}"),
        ]
    )
    request = (
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )
    pem = request.public_bytes(serialization.Encoding.PEM)
    return json.dumps(
        {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": f"node-{node}"},
            "spec": {
                "request": base64.b64encode(pem).decode(),
                "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                "usages": ["digital signature", "key encipherment", "client auth"],
            },
        }
    )


NODE = json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w1"}})


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed (apt-get install kubectl)")
async def test_control_plane_comes_up_and_kubectl_works(
    kubernetes_release: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = NodeProcess(tmp_path / "cp-1", host=address())
    cluster = KubernetesCluster(node.host, kubernetes_release)
    async with node:
        await configure(cluster, node, "cp-1")
        waiting = await services(cluster, node)
        assert set(CONTROL_PLANE) <= set(waiting)
        assert waiting["kube-apiserver"].state in ("waiting", "running", "starting")
        assert await kilnctl(cluster, node, tmp_path, "bootstrap") == 0, capsys.readouterr().err

        await eventually(
            lambda: services(cluster, node), lambda f: healthy(f, CONTROL_PLANE), READY_WITHIN
        )
        capsys.readouterr()
        assert await kilnctl(cluster, node, tmp_path, "services") == 0
        table = capsys.readouterr().out
        for name in CONTROL_PLANE:
            assert name in table

        health = ["health", "--kubernetes", "-n", node.endpoint, "--wait-timeout", "30s"]
        assert await kilnctl(cluster, node, tmp_path, *health) == 0, capsys.readouterr().err
        assert (
            f"{node.endpoint}: kubernetes control plane: apiserver ready" in capsys.readouterr().out
        )

        kubeconfig = tmp_path / "kubeconfig"
        assert await kilnctl(cluster, node, tmp_path, "kubeconfig", "-o", str(kubeconfig)) == 0
        assert await kubectl(kubeconfig, "get", "--raw", "/readyz") == "ok"
        merged = tmp_path / "merged"
        merged.write_text(OTHER_KUBECONFIG)
        assert (
            await kilnctl(cluster, node, tmp_path, "kubeconfig", "--merge", "-o", str(merged)) == 0
        )
        contexts = await kubectl(merged, "config", "get-contexts", "-o", "name")
        assert set(contexts.split()) == {"other", "admin@test"}
        assert await kubectl(merged, "get", "--raw", "/readyz") == "ok"  # the merged one is current
        namespaces = await kubectl(kubeconfig, "get", "namespaces", "-o", "name")
        assert {"namespace/default", "namespace/kube-system"} <= set(namespaces.split())
        for component in ("kube-controller-manager", "kube-scheduler"):  # both lead
            await eventually(
                lambda c=component: kubectl(
                    kubeconfig,
                    "-n",
                    "kube-system",
                    "get",
                    "lease",
                    c,
                    "-o",
                    "jsonpath={.spec.holderIdentity}",
                ),
                bool,
                60,
            )

        await kubectl(kubeconfig, "create", "secret", "generic", "s1", "--from-literal=k=v")
        stored = await etcd_client(node).get("/registry/secrets/default/s1")
        assert stored is not None and stored.startswith(b"k8s:enc:secretbox:v1:key1:")

        await kubectl(kubeconfig, "create", "-f", "-", stdin=NODE)  # the node IPAM gives it a CIDR
        cidr = await eventually(
            lambda: kubectl(kubeconfig, "get", "node", "w1", "-o", "jsonpath={.spec.podCIDR}"),
            bool,
            60,
        )
        assert ipaddress.ip_network(cidr).subnet_of(ipaddress.ip_network("10.244.0.0/16"))
        await kubectl(kubeconfig, "create", "-f", "-", stdin=kubelet_csr("w1"))
        await kubectl(kubeconfig, "certificate", "approve", "node-w1")
        signed = await eventually(
            lambda: kubectl(
                kubeconfig, "get", "csr", "node-w1", "-o", "jsonpath={.status.certificate}"
            ),
            bool,
            60,
        )
        issued = x509.load_pem_x509_certificate(base64.b64decode(signed))
        issued.verify_directly_issued_by(cluster.bundle.kubernetes_ca.certificate.x509())
        assert issued.subject.rfc4514_string() == "CN=system:node:w1,O=system:nodes"

        blob = (await services(cluster, node))["kube-scheduler"]
        assert blob.pid > 0
        binaries = node.state_dir / "kubernetes" / "artifacts" / "sha256"
        scheduler = await asyncio.to_thread(Path(f"/proc/{blob.pid}/exe").resolve)
        assert scheduler.parent == binaries
        async with cluster.client(node) as api:
            await api.service_action("stop", "kube-scheduler")  # a running binary is busy
            with scheduler.open("ab") as tampered:
                tampered.write(b"\0")
            await api.service_action("start", "kube-scheduler")
        refused = await eventually(
            lambda: services(cluster, node),
            lambda f: "changed on disk" in f["kube-scheduler"].message,
            60,
        )
        assert refused["kube-scheduler"].state != "running"
        assert not scheduler.exists()
        health[-1] = "1s"
        assert await kilnctl(cluster, node, tmp_path, *health) == 1
        assert "kubernetes control plane: kube-scheduler" in capsys.readouterr().out
