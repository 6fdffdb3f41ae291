"""A machine's link notices a hub that stopped answering (a network cut: the connection stays
open, nothing comes through) by its unanswered pings, and comes back once the hub answers again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Awaitable
from pathlib import Path

import pytest
from hub_helpers import until

from kiln import process
from kiln.hub.testing import HubProcess
from kiln.machined.hublink import HubLink
from kiln.machined.hublink import link as link_module
from kiln.machinery.api import hub_pb2
from kiln.machinery.api import hublink_pb2 as pb

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

HUB_HOST = "127.88.0.1"
UUID = "00000000-0000-4000-8000-0000000000c1"
REBOOTING = "00000000-0000-4000-8000-0000000000c2"
PING_INTERVAL = 0.3


async def facts() -> tuple[str, pb.Facts]:
    return UUID, pb.Facts(hostname="cut-test", stage="maintenance", maintenance=True)


async def connected(hub: HubProcess, uuid: str = UUID) -> bool:
    async with hub.client() as api:
        reply = await api.ListMachines(hub_pb2.ListRequest(selector="kiln.dev/connected=true"))
    return uuid in {json.loads(text)["metadata"]["id"] for text in reply.resources}


async def spec_of(hub: HubProcess, uuid: str) -> dict[str, object]:
    async with hub.client() as api:
        reply = await api.ListMachines(hub_pb2.ListRequest())
    found = [json.loads(text) for text in reply.resources]
    return next(m["spec"] for m in found if m["metadata"]["id"] == uuid)


async def test_a_silent_hub_is_left_and_dialled_again(hub: HubProcess, tmp_path: Path) -> None:
    async with hub.client() as api:
        token = (await api.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())).token
    link = HubLink(
        hub.url,
        token,
        tmp_path / "link",
        facts,
        api_address=("127.0.0.1", 9),
        max_backoff=1.0,
        ping_interval=PING_INTERVAL,
    )
    running = asyncio.create_task(link.run())
    try:
        async with asyncio.timeout(30):
            await link.connected.wait()
        assert hub.pid is not None
        os.kill(hub.pid, signal.SIGSTOP)  # the hub hears nothing and says nothing
        try:

            async def lost() -> bool:
                return not link.connected.is_set()

            await until(lost, within=10)
        finally:
            os.kill(hub.pid, signal.SIGCONT)
        async with asyncio.timeout(30):
            await link.connected.wait()
        await until(lambda: connected(hub))
    finally:
        running.cancel()
        await asyncio.wait({running})


async def test_facts_that_cannot_be_read_for_a_while_reach_the_hub_later(
    hub: HubProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(link_module, "FACTS_CHECK", 0.2)
    reads = 0

    async def rebooting() -> tuple[str, pb.Facts]:
        """Maintenance facts, then a read that fails (the node between two boots), then one
        that hangs, then the facts of the configured boot."""
        nonlocal reads
        reads += 1
        if reads == 2:
            raise FileNotFoundError("the boot is being torn down")
        if reads == 3:
            await asyncio.sleep(3600)
        stage = "maintenance" if reads == 1 else "running"
        return REBOOTING, pb.Facts(hostname="rebooting", stage=stage, maintenance=reads == 1)

    monkeypatch.setattr(link_module, "FACTS_WITHIN", 1.0)
    async with hub.client() as api:
        token = (await api.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())).token
    link = HubLink(hub.url, token, tmp_path / "link", rebooting, api_address=("127.0.0.1", 9))
    running = asyncio.create_task(link.run())

    async def stage() -> str:
        async with hub.client() as api:
            reply = await api.ListMachines(hub_pb2.ListRequest())
        found = [json.loads(text) for text in reply.resources]
        return next((m["spec"]["stage"] for m in found if m["metadata"]["id"] == REBOOTING), "")

    try:
        await until(lambda: _is(stage(), "maintenance"), within=30)
        await until(lambda: _is(stage(), "running"), within=30)
        assert reads >= 4
    finally:
        running.cancel()
        await asyncio.wait({running})


GARBLED = "00000000-0000-4000-8000-0000000000c4"


async def test_bad_input_on_the_machine_port_ends_only_that_connection(
    hub: HubProcess, tmp_path: Path
) -> None:
    async with hub.client() as api:
        token = (await api.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())).token

    async def garbled_facts() -> tuple[str, pb.Facts]:
        return GARBLED, pb.Facts(hostname="garbled", stage="maintenance", maintenance=True)

    directory = tmp_path / "link"
    link = HubLink(hub.url, token, directory, garbled_facts, api_address=("127.0.0.1", 9))
    running = asyncio.create_task(link.run())
    try:
        async with asyncio.timeout(30):
            await link.connected.wait()
        await until(lambda: connected(hub, GARBLED))
        since = (await spec_of(hub, GARBLED))["connectedSince"]
        assert since
        trusted = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        trusted.check_hostname = False
        trusted.load_verify_locations(directory / "hub.crt")
        anonymous = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        anonymous.load_verify_locations(directory / "hub.crt")
        anonymous.check_hostname = False
        trusted.load_cert_chain(directory / "machine.crt", directory / "machine.key")
        # a machine's own certificate, then a length over the limit; then no certificate
        for context, data in ((trusted, (1 << 31).to_bytes(4, "big")), (anonymous, b"hello")):
            async with asyncio.timeout(10):
                reader, writer = await asyncio.open_connection(
                    hub.host, hub.machine_port, ssl=context
                )
                writer.write(data)
                with contextlib.suppress(ssl.SSLError, ConnectionResetError):
                    assert await reader.read() == b""  # the hub hung up
                writer.close()
        assert "over the limit" in hub.output()
        # the machine's own link was never dropped
        assert link.connected.is_set()
        assert (await spec_of(hub, GARBLED))["connectedSince"] == since
        assert await connected(hub, GARBLED)
    finally:
        running.cancel()
        await asyncio.wait({running})


async def _is(value: Awaitable[str], expected: str) -> bool:
    return await value == expected


SILENT_MACHINE = "00000000-0000-4000-8000-0000000000c3"
LINK_SCRIPT = """
import asyncio, sys
from pathlib import Path
from kiln.machined.hublink import HubLink
from kiln.machinery.api import hublink_pb2 as pb

async def facts():
    return sys.argv[4], pb.Facts(hostname="silent", stage="maintenance", maintenance=True)

link = HubLink(sys.argv[1], sys.argv[2], Path(sys.argv[3]), facts, api_address=("127.0.0.1", 9))
asyncio.run(link.run())
"""


async def test_a_machine_that_stops_answering_is_marked_disconnected(tmp_path: Path) -> None:
    async with HubProcess(tmp_path / "hub", host=HUB_HOST, machine_keepalive=0.5) as hub:
        async with hub.client() as api:
            token = (await api.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())).token
        argv = [sys.executable, "-c", LINK_SCRIPT, hub.url, token, str(tmp_path / "link")]
        machine = await process.spawn([*argv, SILENT_MACHINE], capture_output=False)
        try:
            await until(lambda: connected(hub, SILENT_MACHINE))
            os.kill(machine.pid, signal.SIGSTOP)  # powered off: its connection stays open
            try:
                await until(lambda: _not(connected(hub, SILENT_MACHINE)), within=10)
            finally:
                os.kill(machine.pid, signal.SIGCONT)
        finally:
            await process.terminate(machine, 5.0)


async def _not(value: Awaitable[bool]) -> bool:
    return not await value


async def test_a_peer_address_naming_the_machine_port_is_refused_before_anything_is_made(
    tmp_path: Path,
) -> None:
    machines = f"{HUB_HOST}:2"
    argv = [sys.executable, "-m", "kiln.hub", "serve", "--data", str(tmp_path / "hub")]
    argv += ["--listen", f"{HUB_HOST}:1", "--machine-listen", machines, "--peer-address", machines]
    ran = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=60)
    assert ran.returncode != 0
    assert f"error: --peer-address {machines} is the machine port" in ran.stderr
    assert not (tmp_path / "hub").exists()
