"""The node services' configuration: containerd's config, the KubeletConfiguration and
kube-proxy's, as the compatibility table says for each version, with field names the upstream
schemas know; taints and labels from the machine config; the bootstrap kubeconfig."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from kiln.machined.kubernetes import cgroups, cleanup, containerd
from kiln.machined.kubernetes.kubelet import (
    CONTROL_PLANE_TAINT,
    KubeletInputs,
    KubeletPaths,
    kubelet_args,
    kubelet_configuration,
    kubelet_spec,
    taints,
    write_kubelet_files,
)
from kiln.machined.kubernetes.kubeproxy import (
    KubeProxyInputs,
    kube_proxy_configuration,
    kube_proxy_kubeconfig,
)
from kiln.machined.kubernetes.versions import compatibility
from kiln.machinery.config import MachineConfig
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.config.model import MachineConfigDocument, Taint, TaintEffect
from kiln.machinery.secrets import SecretsBundle

ADDRESS = "127.81.0.7"
SERVER = f"https://{ADDRESS}:6443"

# Top-level fields of kubelet.config.k8s.io/v1beta1 KubeletConfiguration upstream (the ones
# a node may write), and when they appeared.
KUBELET_FIELDS_V1_20 = {
    "apiVersion", "kind", "address", "port", "readOnlyPort", "healthzBindAddress",
    "healthzPort", "authentication", "authorization", "cgroupDriver", "clusterDomain",
    "clusterDNS", "rotateCertificates", "serverTLSBootstrap", "failSwapOn",
    "imageGCHighThresholdPercent", "imageGCLowThresholdPercent", "evictionHard", "cgroupRoot",
}  # fmt: skip
KUBELET_FIELDS_CURRENT = KUBELET_FIELDS_V1_20 | {
    "registerWithTaints",  # v1.23
    "containerRuntimeEndpoint",  # v1.27
    "failCgroupV1",  # v1.31
    "podLogsDir",  # v1.29
}
KUBE_PROXY_FIELDS = {
    "apiVersion", "kind", "mode", "bindAddress", "healthzBindAddress", "metricsBindAddress",
    "hostnameOverride", "clusterCIDR", "clientConnection", "conntrack",
}  # fmt: skip


def document(**cluster: Any) -> MachineConfigDocument:
    generated = generate_configs("demo", SERVER, SecretsBundle.generate()).controlplane
    documents = generated.to_documents()
    documents[0]["cluster"].update(cluster)
    documents[0]["machine"]["kubelet"] = {
        "nodeLabels": {"example.com/rack": "r1"},
        "nodeTaints": [{"key": "example.com/gpu", "value": "yes", "effect": "NoExecute"}],
        "extraArgs": {"v": "2"},
    }
    return MachineConfig.from_documents(documents).machine_config


def kubelet(
    tmp_path: Path, version: str, doc: MachineConfigDocument | None = None
) -> KubeletInputs:
    return KubeletInputs(
        doc or document(),
        "cp-1",
        ADDRESS,
        SERVER,
        compatibility(version),
        tmp_path / "kubelet",
        KubeletPaths(tmp_path),
        containerd.ContainerdPaths(tmp_path),
    )


def flags(argv: list[str]) -> dict[str, str]:
    return dict(arg.removeprefix("--").split("=", 1) for arg in argv)


def test_legacy_kubelet_gets_the_runtime_and_taints_as_flags(tmp_path: Path) -> None:
    inputs = kubelet(tmp_path, "v1.20.2")
    config = kubelet_configuration(inputs)
    assert set(config) <= KUBELET_FIELDS_V1_20
    argv = flags(kubelet_args(inputs))
    assert argv["container-runtime"] == "remote"
    assert argv["container-runtime-endpoint"] == f"unix://{tmp_path}/containerd/containerd.sock"
    assert argv["register-with-taints"] == (
        "example.com/gpu=yes:NoExecute,node-role.kubernetes.io/control-plane=:NoSchedule"
    )


def test_current_kubelet_gets_them_in_its_config(tmp_path: Path) -> None:
    inputs = kubelet(tmp_path, "v1.36.0")
    config = kubelet_configuration(inputs)
    assert set(config) <= KUBELET_FIELDS_CURRENT
    assert config["failCgroupV1"] is False  # the hosts here are cgroup v1
    assert config["containerRuntimeEndpoint"] == inputs.containerd.endpoint
    assert config["registerWithTaints"] == [
        {"key": "example.com/gpu", "value": "yes", "effect": "NoExecute"},
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
    ]
    argv = flags(kubelet_args(inputs))
    assert "container-runtime" not in argv and "register-with-taints" not in argv


@pytest.mark.parametrize("version", ["v1.20.2", "v1.36.0"])
def test_kubelet_serves_on_the_node_address_only(tmp_path: Path, version: str) -> None:
    inputs = kubelet(tmp_path, version)
    config = kubelet_configuration(inputs)
    assert config["address"] == config["healthzBindAddress"] == ADDRESS
    assert config["readOnlyPort"] == 0
    assert config["authentication"]["anonymous"] == {"enabled": False}
    assert config["authorization"] == {"mode": "Webhook"}
    assert config["cgroupDriver"] == containerd.CGROUP_DRIVER
    assert config["clusterDNS"] == ["10.96.0.10"]
    argv = flags(kubelet_args(inputs))
    assert argv["node-ip"] == ADDRESS and argv["hostname-override"] == "cp-1"
    assert argv["node-labels"] == "example.com/rack=r1"
    assert argv["v"] == "2"  # extraArgs
    spec = kubelet_spec(inputs, _verify)
    assert spec.depends_on == ("containerd",)


@pytest.mark.parametrize("version", ["v1.20.2", "v1.36.0"])
def test_a_kubelet_sharing_the_host_keeps_its_pods_apart(tmp_path: Path, version: str) -> None:
    alone = kubelet(tmp_path, version)
    assert "cgroupRoot" not in kubelet_configuration(alone)  # on metal: the machine's root
    assert "podLogsDir" not in kubelet_configuration(alone)
    shared = dataclasses.replace(alone, shares_host=True)
    config = kubelet_configuration(shared)
    assert set(config) <= (KUBELET_FIELDS_V1_20 if version == "v1.20.2" else KUBELET_FIELDS_CURRENT)
    assert config["cgroupRoot"] == cgroups.node_cgroup_root("cp-1", tmp_path)
    if version == "v1.20.2":
        assert "podLogsDir" not in config  # no such field yet
    else:
        assert config["podLogsDir"] == str(tmp_path / "kubelet" / "pod-logs")


async def _verify() -> None:
    return None


def test_control_plane_taint_can_be_left_off() -> None:
    assert CONTROL_PLANE_TAINT in taints(document())
    assert CONTROL_PLANE_TAINT not in taints(document(allowSchedulingOnControlPlanes=True))
    kept = taints(document(allowSchedulingOnControlPlanes=True))
    assert kept == [Taint(key="example.com/gpu", value="yes", effect=TaintEffect.NO_EXECUTE)]


def test_kubelet_joins_with_the_cluster_token(tmp_path: Path) -> None:
    inputs = kubelet(tmp_path, "v1.20.2")
    write_kubelet_files(inputs)
    bootstrap = yaml.safe_load(inputs.paths.bootstrap_kubeconfig.read_text())
    assert bootstrap["users"][0]["user"] == {"token": inputs.document.cluster.token}
    assert bootstrap["clusters"][0]["cluster"]["server"] == SERVER
    written = yaml.safe_load(inputs.paths.config.read_text())
    assert written == kubelet_configuration(inputs)
    assert inputs.paths.bootstrap_kubeconfig.stat().st_mode & 0o077 == 0


def test_kube_proxy_uses_the_kubelet_certificate(tmp_path: Path) -> None:
    paths = KubeletPaths(tmp_path)
    inputs = KubeProxyInputs(document(), "cp-1", ADDRESS, SERVER, tmp_path / "kp", paths)
    config = kube_proxy_configuration(inputs)
    assert set(config) <= KUBE_PROXY_FIELDS
    assert config["mode"] == "iptables"
    assert config["healthzBindAddress"] == f"{ADDRESS}:10256"
    assert config["clusterCIDR"] == "10.244.0.0/16"
    user = kube_proxy_kubeconfig(inputs)["users"][0]["user"]
    assert user["client-certificate"] == user["client-key"] == str(paths.client_certificate)


def test_containerd_keeps_everything_under_the_node_state(tmp_path: Path) -> None:
    paths = containerd.ContainerdPaths(tmp_path)
    containerd.write_config(paths, "kiln.test/pause:1", ADDRESS)
    config = tomllib.loads(paths.config.read_text())
    assert config["version"] == 2
    assert config["grpc"]["address"] == str(tmp_path / "containerd" / "containerd.sock")
    for key in ("root", "state"):
        assert Path(config[key]).is_relative_to(tmp_path)
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "kiln.test/pause:1"
    assert cri["restrict_oom_score_adj"] is True
    assert cri["stream_server_address"] == ADDRESS
    assert cri["cni"]["conf_dir"] == str(tmp_path / "cni" / "net.d")
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is (containerd.CGROUP_DRIVER == "systemd")


@pytest.mark.parametrize("version", ["v1.20.2", "v1.32.1", "v1.36.0"])
def test_every_version_names_its_sandbox_and_dns_images(version: str) -> None:
    compat = compatibility(version)
    assert "pause" in compat.sandbox_image
    assert "coredns" in compat.coredns_image


def test_containerd_sockets_fit_a_unix_socket_path_wherever_the_state_is(tmp_path: Path) -> None:
    short = containerd.ContainerdPaths(Path("/var/lib/kiln"))
    assert short.socket == Path("/var/lib/kiln/containerd/containerd.sock")
    deep = containerd.ContainerdPaths(tmp_path / ("d" * 80) / "node")
    other = containerd.ContainerdPaths(tmp_path / ("d" * 80) / "other")
    assert len(f"{deep.socket}.ttrpc") <= containerd.SOCKET_PATH_MAX
    assert deep.socket.parent.parent == containerd.SHORT_SOCKET_DIR
    assert deep.socket != other.socket  # each node its own
    config = containerd.config_toml(deep, "pause", "127.0.0.1")
    assert f'address = "{deep.socket}"' in config and f'"{deep.socket}.ttrpc"' in config


def test_a_stopped_node_removes_the_socket_directory_it_made_outside_its_state(
    tmp_path: Path,
) -> None:
    deep = containerd.ContainerdPaths(tmp_path / ("d" * 80) / "node")
    directory = deep.socket_dir_elsewhere
    assert directory is not None and directory == deep.socket.parent
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "containerd.sock.ttrpc").write_text("")
    assert cleanup.remove_socket_dir(deep)
    assert not directory.exists() and containerd.SHORT_SOCKET_DIR.exists()
    assert not cleanup.remove_socket_dir(deep)  # nothing left to remove
    beside = containerd.ContainerdPaths(tmp_path / "node")
    beside.socket.parent.mkdir(parents=True)
    assert beside.socket_dir_elsewhere is None and not cleanup.remove_socket_dir(beside)
    assert beside.socket.parent.exists()  # the state directory's own is the node's to keep
