"""The steps of creating a container-mode cluster, in order (see :mod:`kiln.provision.steps`).

Each step is idempotent: it looks at the record and the nodes first and does only what is
missing, so a retried step (or, later, a resumed create) changes nothing that is done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kiln.machinery.config import MachineConfig, StrategicPatch, apply_patches
from kiln.machinery.config.generate import generate_configs, node_patch
from kiln.machinery.config.yamlparse import JSONValue
from kiln.machinery.health import HealthTargets, check_cluster, failed
from kiln.machinery.kilnconfig import Context, issue_context
from kiln.machinery.privatefile import write_private_file
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle
from kiln.provision import addresses, contexts, daemons, nodes
from kiln.provision.errors import ProvisionError, StepRetry
from kiln.provision.record import SECRETS_FILE, ClusterRecord, NodeRecord, load_record
from kiln.provision.request import VM_INSTALL_DISK, ClusterRequest, NodeRole
from kiln.provision.steps import NodeStep, Step


@dataclass
class Creating:
    """What the steps share: the request, the record they fill in, secrets and configs."""

    request: ClusterRequest
    record: ClusterRecord
    secrets: SecretsBundle | None = None
    configs: dict[str, MachineConfig] = field(default_factory=dict)
    client_context: Context | None = None

    @property
    def context(self) -> Context:
        if self.client_context is None:
            raise ProvisionError("the cluster's client credentials were not made yet")
        return self.client_context

    def controlplanes(self) -> list[NodeRecord]:
        return self.record.of_role(NodeRole.CONTROLPLANE)

    def workers(self) -> list[NodeRecord]:
        return self.record.of_role(NodeRole.WORKER)


async def allocate_addresses(c: Creating) -> str:
    if not c.record.nodes:
        taken = _addresses_of_other_clusters(c.record.directory.parent, c.record.name)
        found = addresses.allocate(c.request.nodes(), c.request.base_address, taken=taken)
        c.record.nodes = [
            NodeRecord(
                name=plan.name,
                role=plan.role,
                address=found[plan.name],
                cluster_address=addresses.private_address(index) if c.request.image else None,
            )
            for index, plan in enumerate(c.request.nodes())
        ]
        c.record.save()
    return ", ".join(node.address for node in c.record.nodes)


async def generate(c: Creating) -> str:
    path = c.record.directory / SECRETS_FILE
    if path.exists():
        c.secrets = SecretsBundle.load(path)
    else:
        c.secrets = SecretsBundle.generate()
        write_private_file(path, c.secrets.to_yaml())
    first = c.controlplanes()[0]
    endpoint = f"https://{first.cluster_address or first.address}:6443"
    base = generate_configs(
        c.record.name, endpoint, c.secrets, kubernetes_version=c.request.kubernetes_version
    )
    for node in c.record.nodes:
        config = base.controlplane if node.role is NodeRole.CONTROLPLANE else base.worker
        also = [node.cluster_address] if node.cluster_address else []
        own = node_patch(f"node {node.name}", node.address, node.name, also=also)
        patches = [*c.request.config_patches, own]
        if c.request.installs:
            install: JSONValue = {"disk": VM_INSTALL_DISK}
            patches.append(StrategicPatch("VM install disk", ({"machine": {"install": install}},)))
        elif c.request.image is not None:  # VMs run from memory: no disk to install to
            patches.append(StrategicPatch("diskless VM", ({"machine": {"install": DISKLESS}},)))
        c.configs[node.name] = apply_patches(config, patches)
        directory = c.record.node_dir(node)
        directory.mkdir(parents=True, exist_ok=True)
        write_private_file(directory / "config.yaml", c.configs[node.name].to_yaml())
    c.client_context = issue_context(
        c.secrets.os_ca,
        Role.ADMIN,
        endpoints=[node.endpoint for node in c.controlplanes()],
        nodes=[node.peer_name for node in c.record.nodes],
    )
    return f"secrets and {len(c.configs)} machine configs in {c.record.directory}"


async def start_daemon(c: Creating, node: NodeRecord) -> str:
    if daemons.is_running(node):
        return f"running already (pid {node.pid})"
    daemons.start(c.record, node)
    c.record.save()
    return f"pid {node.pid}, log {daemons.log_path(c.record, node)}"


async def wait_maintenance(c: Creating, node: NodeRecord) -> str:
    maintenance = await nodes.in_maintenance(WAIT_MAINTENANCE, c.record, node)
    return "maintenance mode" if maintenance else "configured already"


async def apply_config(c: Creating, node: NodeRecord) -> str:
    data = c.configs[node.name].to_yaml().encode()
    return await nodes.apply_config(APPLY, c.record, node, data)


async def wait_running(c: Creating, node: NodeRecord) -> str:
    return await nodes.wait_running(WAIT_RUNNING, c.record, node, c.context)


async def add_context(c: Creating) -> str:
    if c.request.kilnconfig is None:
        return "no kilnconfig asked for"
    name = contexts.add_context(c.record, c.request.kilnconfig, c.context)
    c.record.save()
    return f"context {name} in {c.request.kilnconfig} (current)"


async def bootstrap(c: Creating) -> str:
    first = c.controlplanes()[0]
    return await nodes.bootstrap(BOOTSTRAP, c.record, first, c.context)


async def wait_healthy(c: Creating) -> str:
    targets = HealthTargets(  # as the context names them (VMs: through the endpoints)
        tuple(node.peer_name for node in c.controlplanes()),
        tuple(node.peer_name for node in c.workers()),
    )
    checks = await check_cluster(c.context, targets)
    bad = failed(checks)
    if bad:
        raise StepRetry(f"{bad[0]}" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))
    etcd = {check.name: check.reason for check in checks if check.name.startswith("etcd ")}
    summary = [f"etcd: {etcd['etcd members']}, leader {etcd['etcd leader']}"] if etcd else []
    return "; ".join([*summary, f"all {len(checks)} checks pass"])


def _addresses_of_other_clusters(root: Path, name: str) -> set[str]:
    taken: set[str] = set()
    for directory in root.iterdir() if root.is_dir() else ():
        if directory.name == name or not directory.is_dir():
            continue
        try:
            taken.update(node.address for node in load_record(directory).nodes)
        except ProvisionError:
            continue  # not a cluster, or a broken record: its listeners still count
    return taken


def _node_name(node: NodeRecord) -> str:
    return node.name


def _all(c: Creating) -> list[NodeRecord]:
    return c.record.nodes


DISKLESS: JSONValue = {"disk": None}
ALLOCATE = "allocate addresses"
GENERATE = "generate secrets and configs"
START = "start node daemons"
WAIT_MAINTENANCE = "wait for maintenance API"
APPLY = "apply configs"
WAIT_RUNNING = "wait for nodes to run"
CONTEXT = "add kilnconfig context"
BOOTSTRAP = "bootstrap etcd"
APPLY_WORKERS = "apply worker configs"
WAIT_WORKERS = "wait for workers to run"
WAIT_HEALTHY = "wait for a healthy cluster"


CreateStep = Step[Creating] | NodeStep[Creating, NodeRecord]


StartNode = Callable[[Creating, NodeRecord], Awaitable[str]]


def create_steps(
    startup_timeout: float = 30.0,
    health_timeout: float = 180.0,
    *,
    start: tuple[str, StartNode] = (START, start_daemon),
    before_start: Sequence[Step[Creating]] = (),
) -> list[CreateStep]:
    """The steps of a create, in order: the container provisioner's by default; another
    provisioner names how it starts a node and what it prepares first."""

    def per_node(
        name: str,
        select: Callable[[Creating], Sequence[NodeRecord]],
        run: Callable[[Creating, NodeRecord], Awaitable[str]],
        timeout: float = startup_timeout,
    ) -> NodeStep[Creating, NodeRecord]:
        return NodeStep(name, select, run, _node_name, timeout)

    return [
        Step(ALLOCATE, allocate_addresses),
        Step(GENERATE, generate),
        *before_start,
        per_node(start[0], _all, start[1]),
        per_node(WAIT_MAINTENANCE, _all, wait_maintenance),
        per_node(APPLY, Creating.controlplanes, apply_config),
        per_node(WAIT_RUNNING, Creating.controlplanes, wait_running),
        Step(CONTEXT, add_context),
        Step(BOOTSTRAP, bootstrap, timeout=max(90.0, startup_timeout)),
        per_node(APPLY_WORKERS, Creating.workers, apply_config),
        per_node(WAIT_WORKERS, Creating.workers, wait_running, timeout=max(60.0, startup_timeout)),
        Step(WAIT_HEALTHY, wait_healthy, timeout=health_timeout),
    ]
