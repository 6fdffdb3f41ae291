"""containerd as the node's container runtime: its config and its service.

Every path is under the node's state directory, so several container-mode nodes on one host
do not share a root, a state directory or a socket::

    <state>/containerd/root             images, snapshots, content
    <state>/containerd/state            runtime state (sockets of running tasks)
    <state>/containerd/containerd.sock  the API (CRI included) the kubelet talks to (under
                                        /run/kiln/containerd/<digest of state> instead when
                                        that path is too long for a unix socket)
    <state>/containerd/config.toml      the config written below
    <state>/cni/net.d                   CNI network configs (:mod:`.podnetwork` writes them)

The CRI plugin runs containers with runc and the cgroup driver the kubelet is given
(:data:`CGROUP_DRIVER`), starts every pod with ``sandbox_image`` and restricts containers'
``oom_score_adj`` to what the runtime itself may set (runc fails otherwise where containerd
runs without ``CAP_SYS_RESOURCE`` over its own score, as in a container).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from kiln.machined.kubernetes.errors import KubernetesError
from kiln.machined.services import Backoff, HealthCheck, HealthResult, RestartPolicy, ServiceSpec
from kiln.machinery.kubernetes import services as names

CNI_BIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
CGROUP_DRIVER = "cgroupfs"
SOCKET_PATH_MAX = 100
"""The longest socket path kept under the state directory: a unix socket's path has at most
107 bytes, containerd refuses more than 104 and its ttrpc socket adds ``.ttrpc``."""
SHORT_SOCKET_DIR = Path("/run/kiln/containerd")
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""Where the Kubernetes services find runc, the shims, iptables, mount..."""


@dataclass(frozen=True)
class ContainerdPaths:
    """Where one node's containerd keeps everything (see the module docstring)."""

    state_dir: Path

    @property
    def directory(self) -> Path:
        return self.state_dir / "containerd"

    @property
    def root(self) -> Path:
        return self.directory / "root"

    @property
    def state(self) -> Path:
        return self.directory / "state"

    @property
    def socket(self) -> Path:
        beside = self.directory / "containerd.sock"
        if len(f"{beside}.ttrpc".encode()) <= SOCKET_PATH_MAX:
            return beside
        digest = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:16]
        return SHORT_SOCKET_DIR / digest / "containerd.sock"

    @property
    def socket_dir_elsewhere(self) -> Path | None:
        """The directory made for the socket outside the state directory, if it is."""
        parent = self.socket.parent
        return parent if parent.parent == SHORT_SOCKET_DIR else None

    @property
    def config(self) -> Path:
        return self.directory / "config.toml"

    @property
    def cni_conf_dir(self) -> Path:
        return self.state_dir / "cni" / "net.d"

    @property
    def cni_data_dir(self) -> Path:
        return self.state_dir / "cni" / "ipam"

    @property
    def endpoint(self) -> str:
        """The CRI endpoint as the kubelet names it."""
        return f"unix://{self.socket}"


def config_toml(paths: ContainerdPaths, sandbox_image: str, stream_address: str) -> str:
    """containerd's config (version 2, as containerd 1.6 and 1.7 read it)."""
    cri = {
        "sandbox_image": sandbox_image,
        "restrict_oom_score_adj": True,
        "stream_server_address": stream_address,
        "stream_server_port": "0",
        "netns_mounts_under_state_dir": True,
        "containerd": {
            "snapshotter": "overlayfs",
            "default_runtime_name": "runc",
            "runtimes": {
                "runc": {
                    "runtime_type": "io.containerd.runc.v2",
                    "options": {"SystemdCgroup": CGROUP_DRIVER == "systemd"},
                }
            },
        },
        "cni": {"bin_dir": str(CNI_BIN_DIR), "conf_dir": str(paths.cni_conf_dir)},
    }
    document = {
        "version": 2,
        "root": str(paths.root),
        "state": str(paths.state),
        "grpc": {"address": str(paths.socket)},
        "ttrpc": {"address": f"{paths.socket}.ttrpc"},
        "plugins": {
            "io.containerd.grpc.v1.cri": cri,
            "io.containerd.internal.v1.opt": {"path": str(paths.directory / "opt")},
        },
    }
    return tomli_w.dumps(document)


def find_containerd() -> Path:
    """The containerd program on this host; :class:`KubernetesError` when there is none."""
    found = shutil.which("containerd")
    if found is None:
        raise KubernetesError("containerd is not installed (apt-get install containerd runc)")
    return Path(found)


def write_config(paths: ContainerdPaths, sandbox_image: str, stream_address: str) -> None:
    """Make containerd's directories and write its config; blocking."""
    try:
        made = (
            paths.root,
            paths.state,
            paths.socket.parent,
            paths.cni_conf_dir,
            paths.cni_data_dir,
        )
        for directory in made:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        paths.config.write_text(config_toml(paths, sandbox_image, stream_address))
    except OSError as exc:
        where = paths.directory
        raise KubernetesError(f"cannot write containerd's config in {where}: {exc}") from exc


def socket_answers(socket: Path, *, interval: float = 5.0) -> HealthCheck:
    """Healthy while containerd accepts connections on its socket."""

    async def check() -> HealthResult:
        try:
            _, writer = await asyncio.open_unix_connection(str(socket))
        except OSError as exc:
            return HealthResult(False, f"{socket}: {exc.strerror or exc}")
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return HealthResult(True, f"{socket} accepts connections")

    return HealthCheck(check, interval, timeout=2.0, initial_delay=0.5)


def containerd_spec(program: Path, paths: ContainerdPaths) -> ServiceSpec:
    return ServiceSpec(
        names.CONTAINERD,
        [str(program), "--config", str(paths.config)],
        env={"PATH": SEARCH_PATH},
        restart=RestartPolicy.ALWAYS,
        backoff=Backoff(initial=1.0, cap=30.0),
        health=socket_answers(paths.socket, interval=2.0),
        stop_grace=15.0,
    )
