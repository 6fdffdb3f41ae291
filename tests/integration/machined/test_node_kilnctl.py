"""kilnctl against a real node: the commands a person types, through ``kiln.ctl.main.run``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from machined_cluster import ETCD_WAITING, Cluster, wait_running

from kiln.ctl.main import run
from kiln.machined.testing import NodeProcess
from kiln.machinery import kilnconfig

pytestmark = pytest.mark.integration


async def kilnctl(*args: str) -> int:
    """kilnctl runs its own event loop: give it a thread of its own."""
    return await asyncio.to_thread(run, list(args))


async def test_a_node_from_maintenance_to_running_with_kilnctl(
    cluster: Cluster, node: NodeProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config_file = tmp_path / "controlplane.yaml"
    config_file.write_text(cluster.controlplane.to_yaml())
    client_config = tmp_path / "kilnconfig"
    context = cluster.context().model_copy(update={"endpoints": [node.endpoint]})
    kilnconfig.save(kilnconfig.Kilnconfig().add("test", context), client_config)

    assert await kilnctl("version", "--insecure", "-n", node.endpoint) == 0
    out = capsys.readouterr().out
    assert "Maintenance: yes" in out and "Node: 127.0.0.1" in out

    assert await kilnctl("get", "machinestatus", "--kilnconfig", str(client_config)) == 2
    capsys.readouterr()

    code = await kilnctl("apply-config", "--insecure", "-n", node.endpoint, "-f", str(config_file))
    assert code == 0, capsys.readouterr().err
    assert "leaves maintenance mode" in capsys.readouterr().out
    await wait_running(cluster, node)

    assert await kilnctl("version", "--insecure", "-n", node.endpoint) == 1
    assert "not in maintenance mode" in capsys.readouterr().err

    common = ["--kilnconfig", str(client_config)]
    assert await kilnctl(*common, "version") == 0
    assert "Maintenance: no" in capsys.readouterr().out

    assert await kilnctl(*common, "get", "machinestatus", "-o", "yaml") == 0
    document = yaml.safe_load(capsys.readouterr().out)
    assert document["node"] == "127.0.0.1"
    assert document["spec"] == {
        "stage": "running",
        "ready": False,
        "unmetConditions": [ETCD_WAITING],  # nobody bootstrapped it
        "activeSlot": "",  # a container has no A/B slots
        "slots": [],
    }

    assert await kilnctl(*common, "services") == 0
    table = capsys.readouterr().out
    assert "ticker" in table and "running" in table
    assert "etcd" in table and "waiting for a bootstrap (kilnctl bootstrap)" in table

    assert await kilnctl(*common, "get", "ms") == 0
    assert "MachineStatus" in capsys.readouterr().out

    assert await kilnctl(*common, "get", "machineconfig", "-o", "json") == 0
    assert '"kind": "MachineConfig"' in capsys.readouterr().out

    assert await kilnctl(*common, "logs", "ticker", "--tail", "2") == 0
    assert 1 <= capsys.readouterr().out.count("tick") <= 2  # the service has just started

    assert await kilnctl(*common, "get", "nosuchtype") == 1
    assert capsys.readouterr().err.startswith("error: ")

    assert await kilnctl(*common, "service", "nosuch", "restart") == 1
    assert "not loaded" in capsys.readouterr().err
