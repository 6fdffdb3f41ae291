"""The cluster manifests (:mod:`kiln.machined.kubernetes.manifests`) synced by a control-plane
node once per boot and again whenever a config applied live changes them, by one control-plane
node at a time: the node holds an etcd lock (a key bound to a lease, so a node that dies mid-way
frees it within :data:`LOCK_TTL`) while it syncs. A sync applies every manifest and deletes the
objects Kiln applied before that the config no longer holds
(:mod:`kiln.machined.kubernetes.inventory`). It retries with growing delays until its API
server answers and the sync is done. After the first one it labels its own Node
``node-role.kubernetes.io/control-plane`` once the kubelet registered it (a kubelet may not give
itself that label).
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from kiln.machined.address import bind_address
from kiln.machined.errors import NodeStateError
from kiln.machined.etcd.errors import EtcdError
from kiln.machined.kubernetes import inventory, pki
from kiln.machined.kubernetes.apiclient import ApiClient
from kiln.machined.kubernetes.errors import KubernetesError
from kiln.machined.kubernetes.manifests import cluster_manifests, manifest_inputs
from kiln.machined.kubernetes.pki import APISERVER_PORT
from kiln.machined.kubernetes.versions import compatibility
from kiln.machined.node.etcd_calls import RunningMember
from kiln.machinery.config import MachineConfig
from kiln.machinery.privatefile import ensure_private_dir, write_private_files

logger = logging.getLogger(__name__)

LOCK_KEY = "/kiln/locks/kubernetes-manifests"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
LOCK_TTL = 120
RETRY_INITIAL = 2.0
RETRY_CAP = 30.0


class ClusterManifests:
    """See the module docstring."""

    TASK_NAME = "kubernetes manifests"

    def __init__(
        self,
        config: MachineConfig,
        hostname: str,
        address: str,
        secrets_dir: Path,
        etcd: RunningMember,
    ) -> None:
        self._config = config
        self._hostname = hostname
        self._address = address
        self._secrets = pki.ControlPlanePaths(secrets_dir)
        self._etcd = etcd
        self._changed = asyncio.Event()
        self.applied: list[str] = []
        self.pruned: list[str] = []

    def update(self, config: MachineConfig) -> None:
        """A config applied live: sync again if it changes what the manifests are made from."""
        before = manifest_inputs(self._config.machine_config)
        self._config = config
        if manifest_inputs(config.machine_config) != before:
            self._changed.set()

    async def run(self) -> None:
        await self._sync()
        await self._label()
        while True:
            await self._changed.wait()
            logger.info("manifests: the config changed them; syncing")
            await self._sync()

    async def _sync(self) -> None:
        delay = RETRY_INITIAL
        while True:
            self._changed.clear()
            try:
                if await self._apply_holding_lock():
                    return
                logger.info("manifests: another control-plane node applies them; waiting")
            except (KubernetesError, EtcdError, NodeStateError) as exc:
                logger.info("manifests not applied yet: %s", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_CAP)

    async def _label(self) -> None:
        while True:  # the kubelet registers the Node; it may not give itself a node-role label
            try:
                await asyncio.to_thread(self._label_node)
                return
            except KubernetesError as exc:
                logger.info("the control-plane label waits: %s", exc)
            await asyncio.sleep(RETRY_INITIAL)

    def _label_node(self) -> None:
        patch = {"metadata": {"labels": {CONTROL_PLANE_LABEL: ""}}}
        self._api().request(
            "PATCH",
            f"/api/v1/nodes/{self._hostname}",
            json.dumps(patch).encode(),
            "application/merge-patch+json",
        )
        logger.info("node %s labelled %s", self._hostname, CONTROL_PLANE_LABEL)

    async def _apply_holding_lock(self) -> bool:
        client, _ = self._etcd.running()
        lease = await client.try_lock(LOCK_KEY, self._hostname, LOCK_TTL)
        if lease is None:
            return False
        try:
            done = await asyncio.to_thread(self._apply)
        finally:
            await asyncio.shield(client.unlock(lease))
        self.applied, self.pruned = done.applied, done.pruned
        logger.info("manifests applied: %s", ", ".join(self.applied))
        if self.pruned:
            logger.info("manifests removed from the config deleted: %s", ", ".join(self.pruned))
        return True

    def _apply(self) -> inventory.SyncResult:
        document = self._config.machine_config
        coredns = document.cluster.core_dns
        if not coredns.disabled and coredns.image is None:
            tested = compatibility(document.cluster.kubernetes.version).coredns_image
            logger.info("CoreDNS is not applied: set cluster.coreDNS.image (e.g. %s)", tested)
        return inventory.sync(self._api(), cluster_manifests(document))

    def _api(self) -> ApiClient:
        """A client of this node's API server with the node daemon's admin credentials."""
        if not self._secrets.key("machined").exists():
            self._write_credentials()
        return ApiClient(
            f"https://{bind_address(self._address, APISERVER_PORT)}",
            self._secrets.ca,
            self._secrets.cert("machined"),
            self._secrets.key("machined"),
        )

    def _write_credentials(self) -> None:
        """An admin client certificate for the node daemon itself (issued once per boot)."""
        user = pki.admin_kubeconfig(self._config.machine_config, "", user="machined")
        try:
            ensure_private_dir(self._secrets.directory)
            write_private_files(
                {
                    self._secrets.cert("machined"): user.cert_pem,
                    self._secrets.key("machined"): user.key_pem,
                }
            )
        except OSError as exc:
            raise KubernetesError(f"cannot write the node's API credentials: {exc}") from exc
