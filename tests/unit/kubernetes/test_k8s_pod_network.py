"""The default pod network: the CNI config for a node's pod CIDR, routes to other nodes' pod
CIDRs, the address the node publishes itself when the kubelet refuses a loopback one; and what
a stopping node cleans up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kiln.machined.kubernetes import podnetwork
from kiln.machined.kubernetes.cleanup import (
    clean_proxy_rules,
    mounts_under,
    other_kube_proxies,
    remove_pod_logs,
    running_tasks,
)
from kiln.machined.kubernetes.errors import KubernetesError


def node(name: str, cidr: str | None, address: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {"metadata": {"name": name}, "spec": {}, "status": {}}
    if cidr:
        found["spec"] = {"podCIDR": cidr, "podCIDRs": [cidr]}
    if address:
        found["status"]["addresses"] = [{"type": "InternalIP", "address": address}]
    return found


def test_conflist_gives_pods_addresses_of_the_node_cidr(tmp_path: Path) -> None:
    config = podnetwork.conflist("cp-1", ["10.244.3.0/24"], tmp_path / "ipam")
    bridge, portmap = config["plugins"]
    assert bridge["type"] == "bridge" and portmap["type"] == "portmap"
    assert len(bridge["bridge"]) <= 15 and bridge["bridge"] == podnetwork.bridge_name("cp-1")
    assert bridge["bridge"] != podnetwork.bridge_name("cp-2")
    assert bridge["ipam"]["ranges"] == [[{"subnet": "10.244.3.0/24"}]]
    assert bridge["ipam"]["dataDir"] == str(tmp_path / "ipam")
    with pytest.raises(KubernetesError, match="no pod CIDR"):
        podnetwork.conflist("cp-1", [], tmp_path)


def test_conflist_is_written_once_and_whole(tmp_path: Path) -> None:
    config = podnetwork.conflist("cp-1", ["10.244.3.0/24"], tmp_path / "ipam")
    assert podnetwork.write_conflist(tmp_path / "net.d", config)
    assert not podnetwork.write_conflist(tmp_path / "net.d", config)
    written = tmp_path / "net.d" / podnetwork.CONFLIST_NAME
    assert json.loads(written.read_text()) == config
    assert [p.name for p in (tmp_path / "net.d").iterdir()] == [podnetwork.CONFLIST_NAME]


def test_routes_go_to_other_nodes_on_other_hosts() -> None:
    nodes = [
        node("cp-1", "10.244.0.0/24", "10.5.0.2"),
        node("w-1", "10.244.1.0/24", "10.5.0.3"),
        node("w-2", "10.244.2.0/24", "10.5.0.9"),  # an address of this host
        node("w-3", "10.244.3.0/24", "127.81.0.4"),  # container mode on this host
        node("w-4", None, "10.5.0.5"),  # no CIDR yet
        node("w-5", "10.244.5.0/24", None),  # no address yet
    ]
    found = podnetwork.routes("cp-1", nodes, ["10.5.0.2", "10.5.0.9"])
    assert found == [podnetwork.NodeRoute("10.244.1.0/24", "10.5.0.3")]


def test_a_loopback_node_publishes_its_address() -> None:
    registered = node("cp-1", "10.244.0.0/24", None)
    assert podnetwork.needs_published_address(registered, "127.81.0.4")
    published = node("cp-1", "10.244.0.0/24", "127.81.0.4")
    assert not podnetwork.needs_published_address(published, "127.81.0.4")
    assert not podnetwork.needs_published_address(registered, "10.5.0.2")  # the kubelet does
    patch = podnetwork.address_patch("cp-1", "127.81.0.4")
    assert {"type": "InternalIP", "address": "127.81.0.4"} in patch["status"]["addresses"]


def test_mounts_below_the_state_directory_deepest_first() -> None:
    mountinfo = "\n".join(
        [
            "22 1 0:21 / /tmp/s rw - tmpfs tmpfs rw",
            "30 22 0:40 / /tmp/s/kubelet/pods/a/volumes/x rw - tmpfs tmpfs rw",
            "31 22 0:41 / /tmp/s/containerd/state/netns/cni-1 rw - nsfs nsfs rw",
            "32 22 0:42 / /tmp/s/kubelet/pods/a rw - tmpfs tmpfs rw",
            "33 1 0:43 / /tmp/other rw - tmpfs tmpfs rw",
            "34 1 0:44 / /tmp/s2/x rw - tmpfs tmpfs rw",
        ]
    )
    assert mounts_under(Path("/tmp/s"), mountinfo) == [
        "/tmp/s/kubelet/pods/a/volumes/x",
        "/tmp/s/containerd/state/netns/cni-1",
        "/tmp/s/kubelet/pods/a",
    ]


def test_only_running_tasks_are_killed() -> None:
    listing = "TASK    PID     STATUS\nabc     1234    RUNNING\ndef     0       STOPPED\n"
    assert running_tasks(listing) == {"abc": True, "def": False}


def test_only_the_node_s_own_pod_logs_are_removed(tmp_path: Path) -> None:
    kubelet, logs = tmp_path / "kubelet", tmp_path / "logs"
    for uid in ("1111-aa", "2222-bb"):
        (kubelet / "pods" / uid).mkdir(parents=True)
    ours = [logs / "default_hello_1111-aa" / "hello", logs / "kube-system_dns_x_2222-bb" / "dns"]
    theirs = logs / "default_hello_3333-cc" / "hello"  # another node's pod on this host
    for directory in (*ours, theirs):
        directory.mkdir(parents=True)
        (directory / "0.log").write_text("line\n")
    assert remove_pod_logs(kubelet, logs) == 2
    assert [entry.name for entry in logs.iterdir()] == ["default_hello_3333-cc"]
    assert remove_pod_logs(tmp_path / "never-ran", logs) == 0


async def test_kube_proxy_rules_stay_while_another_node_uses_them(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    own = tmp_path / "a" / "kube-proxy" / "config.yaml"
    processes = {
        "10": [b"/cache/sha256/1", f"--config={own}".encode()],  # this node's, still exiting
        "11": [b"/usr/bin/python3", b"-m", b"kiln.machined"],
        "self": [b"/usr/bin/python3"],
    }
    for pid, argv in processes.items():
        (proc / pid).mkdir(parents=True)
        (proc / pid / "cmdline").write_bytes(b"\0".join(argv) + b"\0")
    assert other_kube_proxies(own, proc) == 0
    (proc / "12").mkdir()
    other = tmp_path / "b" / "kube-proxy" / "config.yaml"
    (proc / "12" / "cmdline").write_bytes(b"/cache/sha256/2\0--config=" + str(other).encode())
    assert other_kube_proxies(own, proc) == 1
    assert not await clean_proxy_rules(tmp_path / "kube-proxy", own, proc)
