"""A VM that only knows its hub from its firmware joins it, is installed by it and upgraded by
it: `kilnctl machines create --disk-size` boots the image's ISO with the hub and join token as
SMBIOS OEM strings (no kernel command line to put them on); the machine joins the hub in
maintenance mode, and a template naming it with an install disk has the hub configure it
through its outbound link, the node install itself to the disk and come back from it as the
same machine, and etcd bootstrapped: a healthy one-node cluster the hub made on a real VM.
Then the template names another Kiln version and its image: the hub streams the image through
the machine's link, the node writes its other slot and boots it, and runs the new version."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from image_vm import BuiltImage, image_variant

from kiln import process
from kiln.hub.testing import HubProcess
from kiln.machinery.api import hub_pb2
from kiln.machinery.hubjoin import hub_join_document
from kiln.machinery.privatefile import write_private_file

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

HUB_HOST = "127.95.0.1"
POOL = "e2e-hubpool"
KILNCTL = str(Path(sys.executable).with_name("kilnctl"))
TEMPLATE = """\
kind: Cluster
name: vmedge
{kiln}
---
kind: ControlPlane
machines: [{uuid}]
---
kind: Machine
uuid: {uuid}
install: {{disk: /dev/vda}}
"""


@pytest_asyncio.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubProcess]:
    async with HubProcess(tmp_path / "hub", host=HUB_HOST) as started:
        yield started


async def run(argv: list[str], env: dict[str, str], timeout: float) -> str:  # noqa: ASYNC109
    done = await process.run(argv, env=env, timeout=timeout, check=False)
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == 0, f"{' '.join(argv[:4])}: {output}"
    return output


async def connected_machines(hub: HubProcess) -> list[dict[str, Any]]:
    async with hub.client() as api:
        selector = "kiln.dev/connected=true,kiln.dev/stage=maintenance"
        reply = await api.ListMachines(hub_pb2.ListRequest(selector=selector))
    return [json.loads(text) for text in reply.resources]


async def test_a_vm_joins_through_its_firmware_and_the_hub_installs_it(
    image: BuiltImage, hub: HubProcess, tmp_path: Path
) -> None:
    async with hub.client() as api:
        token = (await api.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())).token
    join_file = tmp_path / "hubjoin.yaml"
    write_private_file(join_file, json.dumps(hub_join_document(hub.url, token)))
    home = {"HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    pool = [KILNCTL, "machines", "create", "--name", POOL, "--count", "1", "--disk-size", "4"]
    pool += ["--image", str(image.directory), "--hub-join", str(join_file)]
    pool += ["--hub-machine-port", str(hub.machine_port)]
    try:
        await run(pool, home, timeout=600)
        for _ in range(300):
            if found := await connected_machines(hub):
                break
            await asyncio.sleep(2)
        else:
            pytest.fail("the VM did not join the hub within 10 minutes")
        uuid = found[0]["metadata"]["id"]
        console = tmp_path / ".kiln" / "clusters" / POOL / f"{POOL}-machine-1" / "console.log"
        assert "kiln.join_token" not in console.read_text(errors="replace")  # not on its cmdline

        template = tmp_path / "vmedge.yaml"
        template.write_text(TEMPLATE.format(uuid=uuid, kiln=""))
        env = {
            **home,
            "KILN_HUB_CONFIG": str(hub.data_dir / "client.yaml"),
            "KILN_HUB_API_KEY": hub.admin_key,
        }
        hub_cli = [sys.executable, "-m", "kiln.hub"]
        sync = [*hub_cli, "template", "sync", "-f", str(template), "--wait", "--timeout", "15m"]
        await run(sync, env, timeout=1000)
        status = await run([*hub_cli, "template", "status", "vmedge", "-o", "json"], env, 60)
        (described,) = [r["spec"] for r in json.loads(status) if "healthy" in r["spec"]]
        assert described["healthy"], described
        assert [m["uuid"] for m in described["machines"]] == [uuid]
        assert "installed: /dev/vda6 on /var" in console.read_text(errors="replace")

        second = await image_variant(image, tmp_path, "second")
        version = json.loads((second / "manifest.json").read_text())["version"]
        kiln = f"kiln: {{version: {version}, image: {second}}}"
        template.write_text(TEMPLATE.format(uuid=uuid, kiln=kiln))
        await run(sync, env, timeout=1000)  # until the machine runs the new version
        async with hub.client() as api:
            reply = await api.ListMachines(hub_pb2.ListRequest())
        (machine,) = [json.loads(text)["spec"] for text in reply.resources]
        assert (machine["version"], machine["stage"]) == (version, "running")
        assert "root /dev/vda3 mounted read-only" in console.read_text(errors="replace")  # B
    finally:
        destroy = [KILNCTL, "machines", "destroy", "--name", POOL]
        await process.run(destroy, env=home, timeout=120, check=False)
