"""A real Kubernetes v1.20.2 control plane on a container-mode node: etcd bootstrapped,
kube-apiserver ready, controller-manager and scheduler healthy and leading, secrets encrypted
at rest, node CIDRs allocated and kubelet CSRs signed, kubectl working with the kubeconfig
kilnctl gets, a tampered binary refused."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from k8s_cluster import (
    CONTROL_PLANE,
    READY_WITHIN,
    KubernetesCluster,
    address,
    healthy,
    kubectl,
    services,
    why_no_node,
)
from machined_cluster import eventually
from machined_etcd import configure, etcd_client, kilnctl

from kiln.machined.testing import NodeProcess

pytestmark = pytest.mark.integration

OTHER_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: other, cluster: {server: "https://192.0.2.1:6443"}}]
users: [{name: other, user: {token: secret}}]
contexts: [{name: other, context: {cluster: other, user: other}}]
current-context: other
"""


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


@pytest.mark.skipif(why_no_node() is not None, reason=why_no_node() or "")
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

        health = [
            "health",
            "--kubernetes",
            "-n",
            node.endpoint,
            "--wait-timeout",
            "180s",
        ]  # nodes Ready too
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
