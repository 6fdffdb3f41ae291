"""Reaching a cluster the hub made: ``kiln-hub kilnconfig`` and real ``kilnctl`` calls through
the hub to a real container-mode node that joined it through its outbound connection, as the
API key's role allows (a reader reads, its changes are refused), with the calls that change
something in the audit log; a machine outside the cluster is refused. ``kiln-hub kubeconfig``
mints an admin kubeconfig from the cluster's Kubernetes CA, for an operator only."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hub_helpers import join_file, kiln_hub, kilnctl, module_hub, wait_machines

from kiln.hub.testing import HubProcess
from kiln.machined.testing import NodeProcess
from kiln.machinery import kilnconfig
from kiln.machinery.api import hub_pb2, machine_pb2
from kiln.machinery.client import Client, ClientError, resolve

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

HUB_HOST = "127.91.0.1"
MEMBER_HOST = "127.91.1.1"  # the cluster's one machine
FREE_HOST = "127.91.1.2"  # joined, in no cluster
TEMPLATE = """\
kind: Cluster
name: {name}
---
kind: ControlPlane
machineSelector: {{selector: "{selector}", count: 1}}
"""


hub = module_hub(HUB_HOST, ["sqlite"])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def machines(
    hub: HubProcess, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, tuple[str, NodeProcess]]]:
    """The member-to-be and the free machine, joined: by host, (UUID, node)."""
    root = tmp_path_factory.mktemp("access-nodes")
    joining = await join_file(hub, root)
    started = [
        NodeProcess(root / f"n{i}", host=host, hub_join=joining)
        for i, host in enumerate((MEMBER_HOST, FREE_HOST))
    ]
    try:
        await asyncio.gather(*(node.start() for node in started))
        selector = "kiln.dev/stage=maintenance,kiln.dev/connected=true"
        found = await wait_machines(hub, len(started), selector)
        by_host = {node.host: node for node in started}
        yield {
            m["spec"]["hostname"]: (m["metadata"]["id"], by_host[m["spec"]["hostname"]])
            for m in found
        }
    finally:
        await asyncio.gather(*(node.stop() for node in started if node.pid is not None))


def node_config(node: NodeProcess) -> dict[str, Any]:
    """The machine config the node runs, as its state directory holds it."""
    documents = yaml.safe_load_all((node.state_dir / "config.yaml").read_text())
    return next(d for d in documents if "machine" in d)


def machine_token(node: NodeProcess) -> str:
    token = node_config(node)["machine"]["token"]
    assert isinstance(token, str) and len(token) >= 16
    return token


async def audit(hub: HubProcess, method: str) -> list[dict[str, Any]]:
    async with hub.client() as api:
        reply = await api.ListAudit(hub_pb2.ListAuditRequest())
    entries = [json.loads(text)["spec"] for text in reply.resources]
    return [e for e in entries if e["method"] == method]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def edge(
    hub: HubProcess,
    machines: dict[str, tuple[str, NodeProcess]],
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """The cluster ``edge`` made of the member machine, healthy; its machine's UUID."""
    uuid, _ = machines[MEMBER_HOST]
    async with hub.client() as api:
        await api.LabelMachine(hub_pb2.LabelMachineRequest(id=uuid, set={"pool": "access"}))
    template = tmp_path_factory.mktemp("access") / "edge.yaml"
    template.write_text(TEMPLATE.format(name="edge", selector="pool=access"))
    synced = await kiln_hub(
        hub, "template", "sync", "-f", str(template), "--wait", "--timeout", "150s"
    )
    assert synced.returncode == 0, synced.stderr
    return uuid


async def test_an_unknown_or_unbootstrapped_cluster_is_refused(
    hub: HubProcess, machines: dict[str, tuple[str, NodeProcess]], tmp_path: Path
) -> None:
    idle = tmp_path / "idle.yaml"  # selects no machine: never bootstrapped
    idle.write_text(TEMPLATE.format(name="idle", selector="pool=nowhere"))
    assert (await kiln_hub(hub, "template", "sync", "-f", str(idle))).returncode == 0
    for command in ("kilnconfig", "kubeconfig"):
        unknown = await kiln_hub(hub, command, "nope", "-o", str(tmp_path / command))
        assert unknown.returncode == 1
        assert "no cluster 'nope' on this hub" in unknown.stderr and "NOT_FOUND" in unknown.stderr
        waiting = await kiln_hub(hub, command, "idle", "-o", str(tmp_path / command))
        assert waiting.returncode == 1
        assert "cluster idle is not bootstrapped yet" in waiting.stderr
        assert "FAILED_PRECONDITION" in waiting.stderr
        assert not (tmp_path / command).exists()
    assert (await kiln_hub(hub, "template", "delete", "idle")).returncode == 0


async def test_kilnctl_reaches_the_cluster_through_the_hub_and_changes_are_audited(
    hub: HubProcess, machines: dict[str, tuple[str, NodeProcess]], edge: str, tmp_path: Path
) -> None:
    config = tmp_path / "edge.kilnconfig"
    made = await kiln_hub(hub, "kilnconfig", "edge", "-o", str(config))
    assert made.returncode == 0, made.stderr
    assert "context edge@hub written" in made.stdout and "as admin" in made.stdout
    context = kilnconfig.load(config).get("edge@hub")
    assert context.hub is not None and context.hub.api_key == hub.admin_key
    assert not context.crt and not context.key  # no machine credentials leave the hub

    version = await kilnctl(config, "version")  # no -n: the first control plane
    assert version.returncode == 0, version.stderr
    assert "Server:" in version.stdout and "Maintenance: no" in version.stdout, version.stdout
    members = await kilnctl(config, "etcd", "members")
    assert members.returncode == 0, members.stderr
    assert MEMBER_HOST in members.stdout
    services = await kilnctl(config, "-n", MEMBER_HOST, "services")
    assert services.returncode == 0, services.stderr
    assert any(line.split()[:2] == [MEMBER_HOST, "etcd"] for line in services.stdout.splitlines())
    logs = await kilnctl(config, "-n", edge, "logs", "etcd", "--tail", "5")  # a server stream
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.strip()
    both = await kilnctl(
        config, "-n", f"{MEMBER_HOST},{edge}", "version"
    )  # asked in the hub at once
    assert both.returncode == 0, both.stderr
    assert f"Node: {MEMBER_HOST}" in both.stdout and f"Node: {edge}" in both.stdout
    health = await kilnctl(
        config, "health", "--control-plane-nodes", MEMBER_HOST, "--wait-timeout", "60s"
    )
    assert health.returncode == 0, health.stdout + health.stderr
    assert "healthy: all" in health.stdout
    one_at_a_time = await kilnctl(config, "-n", f"{MEMBER_HOST},{edge}", "logs", "etcd")
    assert one_at_a_time.returncode == 1
    assert "answers for one machine at a time" in one_at_a_time.stderr

    defrag = await kilnctl(config, "etcd", "defrag")  # changes something: audited
    assert defrag.returncode == 0, defrag.stderr
    (entry,) = await audit(hub, "EtcdDefragment")
    assert entry["result"] == "OK" and "(admin)" in entry["who"]
    assert entry["target"].startswith("edge: ") and edge in entry["target"]
    assert not await audit(hub, "ServiceList")  # reading is not

    target = resolve(kilnconfig.load(config).get("edge@hub"))
    async with Client(target) as api:  # a client stream reaches the machine and its answer back

        async def empty() -> AsyncIterator[machine_pb2.UpgradeRequest]:
            yield machine_pb2.UpgradeRequest()

        with pytest.raises(ClientError) as refused:
            await api.upgrade(empty(), within=30.0)
    assert refused.value.code == "INVALID_ARGUMENT"
    assert "the first message must carry the manifest" in refused.value.message


async def test_a_reader_reads_but_may_not_change_anything(
    hub: HubProcess, machines: dict[str, tuple[str, NodeProcess]], edge: str, tmp_path: Path
) -> None:
    async with hub.client() as api:
        reader = (await api.CreateApiKey(hub_pb2.CreateApiKeyRequest(role="reader"))).key
    config = tmp_path / "reader.kilnconfig"
    made = await kiln_hub(hub, "kilnconfig", "edge", "--key", reader, "-o", str(config))
    assert made.returncode == 0, made.stderr
    assert "as reader" in made.stdout
    assert kilnconfig.load(config).get("edge@hub").hub.api_key == reader  # type: ignore[union-attr]

    services = await kilnctl(config, "services")
    assert services.returncode == 0, services.stderr
    assert "etcd" in services.stdout
    # The machine sees the reader's role, not the hub's: it redacts its secrets.
    _, node = machines[MEMBER_HOST]
    secret = machine_token(node)
    as_reader = await kilnctl(config, "get", "mc", "-o", "yaml")
    assert as_reader.returncode == 0, as_reader.stderr
    assert "MachineConfig" in as_reader.stdout and secret not in as_reader.stdout
    admin_config = tmp_path / "admin.kilnconfig"
    assert (await kiln_hub(hub, "kilnconfig", "edge", "-o", str(admin_config))).returncode == 0
    as_admin = await kilnctl(admin_config, "get", "mc", "-o", "yaml")
    assert as_admin.returncode == 0, as_admin.stderr
    assert secret in as_admin.stdout
    refused = await kilnctl(config, "etcd", "defrag")
    assert refused.returncode == 1
    assert (
        "EtcdDefragment needs role operator or higher on the hub; the API key has role reader"
        in refused.stderr
    )
    target = resolve(kilnconfig.load(config).get("edge@hub"))
    async with Client(target) as api:
        with pytest.raises(ClientError) as denied:
            await api.service_action("restart", "etcd")
    assert denied.value.code == "PERMISSION_DENIED"
    entries = await audit(hub, "EtcdDefragment")
    assert [e["result"] for e in entries] == ["OK", "PERMISSION_DENIED"]
    assert "(reader)" in entries[-1]["who"] and entries[-1]["target"] == "edge"

    refused = await kiln_hub(hub, "kubeconfig", "edge", "-o", str(tmp_path / "k"), key=reader)
    assert refused.returncode == 1
    assert "needs role operator" in refused.stderr and "PERMISSION_DENIED" in refused.stderr
    assert not (tmp_path / "k").exists()


async def test_a_machine_outside_the_cluster_is_refused(
    hub: HubProcess, machines: dict[str, tuple[str, NodeProcess]], edge: str, tmp_path: Path
) -> None:
    config = tmp_path / "edge.kilnconfig"
    assert (await kiln_hub(hub, "kilnconfig", "edge", "-o", str(config))).returncode == 0
    again = await kiln_hub(hub, "kilnconfig", "edge", "-o", str(config))
    assert again.returncode == 1 and "already exists (use --force" in again.stderr
    merged = await kiln_hub(hub, "kilnconfig", "edge", "-o", str(config), "--merge")
    assert merged.returncode == 0, merged.stderr  # the same context: stored once
    assert list(kilnconfig.load(config).contexts) == ["edge@hub"]
    badly_named = await kiln_hub(hub, "kilnconfig", "edge", "--context", "a b", "-o", str(config))
    assert badly_named.returncode == 1 and "context 'a b': " in badly_named.stderr
    free_uuid, _ = machines[FREE_HOST]
    for node in (free_uuid, FREE_HOST, "127.91.9.9"):
        refused = await kilnctl(config, "-n", node, "version")
        assert refused.returncode == 1
        assert f"{node}: not a machine of cluster edge" in refused.stderr, refused.stderr
    target = resolve(kilnconfig.load(config).get("edge@hub"), nodes=[free_uuid])
    async with Client(target) as api:
        with pytest.raises(ClientError) as refused_call:
            await api.reboot()
    assert refused_call.value.code == "NOT_FOUND"
    (entry,) = await audit(hub, "Reboot")  # refused, and recorded
    assert entry["result"] == "NOT_FOUND" and free_uuid in entry["target"]


async def test_an_operator_gets_a_short_lived_admin_kubeconfig(
    hub: HubProcess, machines: dict[str, tuple[str, NodeProcess]], edge: str, tmp_path: Path
) -> None:
    out = tmp_path / "edge.kubeconfig"
    async with hub.client() as api:
        operator = (await api.CreateApiKey(hub_pb2.CreateApiKeyRequest(role="operator"))).key
    made = await kiln_hub(hub, "kubeconfig", "edge", "-o", str(out), "--ttl", "2h", key=operator)
    assert made.returncode == 0, made.stderr
    assert (out.stat().st_mode & 0o777) == 0o600
    config = yaml.safe_load(out.read_text())
    (cluster,) = config["clusters"]
    assert cluster["cluster"]["server"] == f"https://{MEMBER_HOST}:6443"  # the endpoint
    (user,) = config["users"]
    certificate = x509.load_pem_x509_certificate(
        base64.b64decode(user["user"]["client-certificate-data"])
    )
    # The node's own config holds the cluster's Kubernetes CA: the certificate comes from it.
    _, node = machines[MEMBER_HOST]
    ca_pem = base64.b64decode(node_config(node)["cluster"]["ca"]["crt"])
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]) == ca_pem
    ca = x509.load_pem_x509_certificate(ca_pem)
    public = ca.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert certificate.signature_hash_algorithm is not None
    public.verify(
        certificate.signature,
        certificate.tbs_certificate_bytes,
        ec.ECDSA(certificate.signature_hash_algorithm),
    )
    assert certificate.issuer == ca.subject
    organizations = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [o.value for o in organizations] == ["system:masters"]
    expected = datetime.now(UTC) + timedelta(hours=2)
    assert abs(certificate.not_valid_after_utc - expected) < timedelta(minutes=2)

    too_long = await kiln_hub(hub, "kubeconfig", "edge", "--ttl", "400d", key=operator)
    assert too_long.returncode == 1 and "INVALID_ARGUMENT" in too_long.stderr
    entries = await audit(hub, "Kubeconfig")
    assert [(e["result"], e["target"]) for e in entries][-2:] == [
        ("OK", "edge"),
        ("INVALID_ARGUMENT", "edge"),
    ]
