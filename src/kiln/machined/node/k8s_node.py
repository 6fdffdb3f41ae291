"""This node's Kubernetes node services through one boot: containerd, the kubelet and
kube-proxy on every configured node, the pod network, and on control-plane nodes the cluster
manifests.

The three services are loaded as waiting while a background task gets the kubelet and
kube-proxy binaries of ``cluster.kubernetes.version`` (``machine.kubelet.version`` while an
upgrade pins it) and writes their files; then they start
(the kubelet after containerd, kube-proxy once the kubelet has its client certificate). Two
more tasks follow the cluster: the pod network (:mod:`kiln.machined.kubernetes.podnetwork`:
the CNI config once the controller-manager gave the Node a pod CIDR, routes to the other
nodes' on metal) and, on a control-plane node, the manifests (synced by one control-plane
node at a time, holding an etcd lock, once per boot and when a config applied live changes
them). In container mode the kubelet keeps its pods under a cgroup root of its own
(:mod:`kiln.machined.kubernetes.cgroups`): other nodes' kubelets share the host. Stopping kills
the node's pods and leaves no mount behind (:mod:`kiln.machined.kubernetes.cleanup`), nor in
container mode the node's cgroups and pod logs. A new version applied live restarts the kubelet
and kube-proxy (:meth:`NodeKubernetes.upgrade`); containerd and the pods keep running.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from kiln.machined.errors import NodeStateError
from kiln.machined.events import EventBus
from kiln.machined.kubernetes import cgroups, cleanup, containerd, podnetwork
from kiln.machined.kubernetes.apiclient import ApiClient
from kiln.machined.kubernetes.artifacts import (
    NODE_BINARIES,
    ArtifactCache,
    ArtifactLocation,
    host_arch,
)
from kiln.machined.kubernetes.drain import NodeApi
from kiln.machined.kubernetes.errors import (
    ArtifactVerificationError,
    KubernetesError,
    KubernetesVersionError,
)
from kiln.machined.kubernetes.kubelet import (
    KubeletInputs,
    KubeletPaths,
    kubelet_spec,
    write_kubelet_files,
)
from kiln.machined.kubernetes.kubeproxy import (
    KubeProxyInputs,
    kube_proxy_spec,
    write_kube_proxy_files,
)
from kiln.machined.kubernetes.versions import Compatibility, compatibility
from kiln.machined.node import k8s_controlplane
from kiln.machined.node.k8s_drain import NodeDrain
from kiln.machined.node.k8s_manifests import ClusterManifests
from kiln.machined.services import ServiceError, ServiceSpec, Supervisor
from kiln.machined.services.spec import Prepare
from kiln.machinery.config import MachineConfig
from kiln.machinery.kubernetes import services as names

logger = logging.getLogger(__name__)

TASK_NAME = "kubernetes node"
NETWORK_TASK = "pod network"
NETWORK_POLL = 3.0
NETWORK_RESYNC = 30.0


def kubelet_version(config: MachineConfig) -> str:
    """The kubelet's and kube-proxy's version: ``machine.kubelet.version`` while an upgrade
    pins it, else the cluster's."""
    document = config.machine_config
    return document.machine.kubelet.version or document.cluster.kubernetes.version


class NodeKubernetes:
    """See the module docstring. ``manifests`` is given on control-plane nodes; ``shares_host``
    (container mode) keeps the kubelet's pods apart from other nodes' kubelets on the host."""

    def __init__(
        self,
        config: MachineConfig,
        hostname: str,
        address: str,
        state_dir: Path,
        supervisor: Supervisor,
        spawn: k8s_controlplane.Spawn,
        events: EventBus,
        *,
        manage_routes: bool,
        shares_host: bool = False,
        local_addresses: Callable[[], Sequence[str]],
        manifests: ClusterManifests | None = None,
    ) -> None:
        self._config = config
        self._hostname = hostname
        self._address = address
        self._state_dir = state_dir
        self._supervisor = supervisor
        self._spawn = spawn
        self._manage_routes = manage_routes
        self._shares_host = shares_host
        self._cgroup_root = cgroups.node_cgroup_root(hostname, state_dir) if shares_host else None
        self._local_addresses = local_addresses
        self._manifests = manifests
        self._cache = ArtifactCache(state_dir / k8s_controlplane.ARTIFACTS_DIR)
        self.containerd = containerd.ContainerdPaths(state_dir)
        self.kubelet = KubeletPaths(state_dir)
        self._server = str(config.machine_config.cluster.control_plane.endpoint).rstrip("/")
        self._tasks: list[asyncio.Task[None]] = []
        self._loaded = False
        self._kube_proxy: tuple[Path, Path] | None = None  # its binary and its config
        self.drainer = NodeDrain(hostname, self._node_api, events)

    async def start(self) -> None:
        version = kubelet_version(self._config)
        await k8s_controlplane.show_waiting(
            self._supervisor, names.NODE_SERVICES, f"Kubernetes {version} node binaries"
        )
        self._tasks.append(self._spawn(self._run(), TASK_NAME))

    async def close(self) -> None:
        for task in self._tasks:
            if not task.done():
                task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        if not self._loaded:
            return
        await self._supervisor.stop(names.KUBE_PROXY)
        await self._supervisor.stop(names.KUBELET)
        killed = await cleanup.remove_containers(self.containerd)
        await self._supervisor.stop(names.CONTAINERD)
        await asyncio.to_thread(cleanup.remove_socket_dir, self.containerd)
        unmounted = await cleanup.unmount_under(self._state_dir)
        if self._cgroup_root is not None:
            await asyncio.to_thread(cgroups.remove, self._cgroup_root)
        if self._shares_host:
            await asyncio.to_thread(cleanup.remove_pod_logs, self.kubelet.root)
        if not self._manage_routes:  # container mode: leave the shared host as it was
            await cleanup.remove_link(podnetwork.bridge_name(self._hostname))
            if self._kube_proxy is not None:
                await cleanup.clean_proxy_rules(*self._kube_proxy)
        logger.info("Kubernetes node stopped: %d containers, %d mounts removed", killed, unmounted)

    async def _run(self) -> None:
        delay = k8s_controlplane.RETRY_INITIAL
        while True:
            try:
                specs = await asyncio.to_thread(self._prepare)
                break
            except KubernetesError as exc:
                logger.error("the Kubernetes node services cannot start: %s", exc)
                await k8s_controlplane.show_waiting(self._supervisor, names.NODE_SERVICES, str(exc))
                if isinstance(exc, ArtifactVerificationError):
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, k8s_controlplane.RETRY_CAP)
        self._loaded = True
        await self._supervisor.replace(*specs)
        self._tasks.append(self._spawn(self._pod_network(), NETWORK_TASK))
        self._tasks.append(self.drainer.start(self._spawn))
        if self._manifests is not None:
            self._tasks.append(self._spawn(self._manifests.run(), ClusterManifests.TASK_NAME))

    def _node_api(self) -> NodeApi | None:
        """The calls of a drain, as the kubelet; None until it has its client certificate."""
        if not self.kubelet.client_certificate.exists():
            return None
        client = ApiClient(self._server, self.kubelet.ca, self.kubelet.client_certificate)
        try:
            version = self._config.machine_config.cluster.kubernetes.version
            eviction = compatibility(version).eviction_version
        except KubernetesVersionError:  # the services say so; a drain tries the current one
            eviction = Compatibility("").eviction_version
        return NodeApi(client, self._hostname, eviction)

    def config_applied(self, config: MachineConfig) -> None:
        """A config applied live: the manifests synced again where it changes them."""
        if self._manifests is not None:
            self._manifests.update(config)

    async def upgrade(self, config: MachineConfig) -> None:
        """Run the kubelet and kube-proxy of ``config``'s version: binaries fetched and verified
        first (a refused version leaves the running ones alone), then the kubelet and
        kube-proxy restarted one at a time, each healthy before the next; pods keep running."""
        self._config = config
        if not self._loaded:
            await self.close()
            await self.start()
            return
        try:
            specs = await asyncio.to_thread(self._prepare)
            await k8s_controlplane.roll(self._supervisor, specs[1:])  # containerd stays
        except (KubernetesError, ServiceError) as exc:
            logger.error("the kubelet upgrade stopped: %s", exc)
            return
        logger.info("kubelet and kube-proxy upgraded to %s", kubelet_version(config))

    async def prefetch(self, config: MachineConfig) -> None:
        """Fetch and verify the kubelet and kube-proxy of ``config``'s cluster version ahead
        of their upgrade (while the kubelet is still pinned); a failure is only logged."""
        kubernetes = config.machine_config.cluster.kubernetes
        location = ArtifactLocation.from_config(kubernetes.artifacts)
        try:
            await asyncio.to_thread(
                self._cache.fetch, location, kubernetes.version, host_arch(), NODE_BINARIES
            )
        except KubernetesError as exc:
            logger.error("cannot fetch the kubelet of Kubernetes %s: %s", kubernetes.version, exc)

    def _prepare(self) -> list[ServiceSpec]:
        """Binaries, files and specs of the three services; blocking."""
        document = self._config.machine_config
        version = kubelet_version(self._config)
        compat = compatibility(version)
        location = ArtifactLocation.from_config(document.cluster.kubernetes.artifacts)
        binaries = self._cache.fetch(location, version, host_arch(), NODE_BINARIES)
        program = containerd.find_containerd()
        sandbox = document.machine.kubelet.sandbox_image or compat.sandbox_image
        containerd.write_config(self.containerd, sandbox, self._address)
        if self._cgroup_root is not None:
            cgroups.create(self._cgroup_root)
        kubelet = KubeletInputs(
            document,
            self._hostname,
            self._address,
            self._server,
            compat,
            binaries["kubelet"],
            self.kubelet,
            self.containerd,
            self._shares_host,
        )
        write_kubelet_files(kubelet)
        proxy = KubeProxyInputs(
            document,
            self._hostname,
            self._address,
            self._server,
            binaries["kube-proxy"],
            self.kubelet,
        )
        write_kube_proxy_files(proxy)
        self._kube_proxy = (binaries["kube-proxy"], proxy.directory / "config.yaml")
        return [
            containerd.containerd_spec(program, self.containerd),
            kubelet_spec(kubelet, self._verify(binaries["kubelet"])),
            kube_proxy_spec(proxy, self._verify(binaries["kube-proxy"])),
        ]

    def _verify(self, binary: Path) -> Prepare:
        async def verify() -> None:
            await asyncio.to_thread(self._cache.verify, binary)

        return verify

    async def _pod_network(self) -> None:
        """Write the CNI config once the Node has a pod CIDR; keep the routes to other nodes."""
        client = ApiClient(self._server, self.kubelet.ca, self.kubelet.client_certificate)
        written = False
        while True:
            if self.kubelet.client_certificate.exists():
                try:
                    ready, routes = await asyncio.to_thread(self._sync_network, client)
                    if routes is not None:
                        await podnetwork.apply_routes(routes)
                    written = written or ready
                except (KubernetesError, NodeStateError) as exc:
                    logger.info("pod network: %s", exc)
            await asyncio.sleep(NETWORK_RESYNC if written else NETWORK_POLL)

    def _sync_network(self, client: ApiClient) -> tuple[bool, list[podnetwork.NodeRoute] | None]:
        """Whether the CNI config is written, and the routes to keep (None: none managed)."""
        node = client.get(f"/api/v1/nodes/{self._hostname}")
        if podnetwork.needs_published_address(node, self._address):
            patch = podnetwork.address_patch(self._hostname, self._address)
            client.request(
                "PATCH",
                f"/api/v1/nodes/{self._hostname}/status",
                json.dumps(patch).encode(),
                "application/strategic-merge-patch+json",
            )
            logger.info("pod network: published the node's address %s", self._address)
        cidrs = podnetwork.pod_cidrs(node)
        if not cidrs:
            return False, None
        config = podnetwork.conflist(self._hostname, cidrs, self.containerd.cni_data_dir)
        if podnetwork.write_conflist(self.containerd.cni_conf_dir, config):
            bridge = podnetwork.bridge_name(self._hostname)
            logger.info("pod network: %s on bridge %s", ", ".join(cidrs), bridge)
        if not self._manage_routes:
            return True, None
        nodes = client.get("/api/v1/nodes").get("items", [])
        return True, podnetwork.routes(self._hostname, nodes, self._local_addresses())
