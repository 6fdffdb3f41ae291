"""Services, their logs (tail and follow) and the machine events of a real node."""

from __future__ import annotations

import asyncio

import pytest
from machined_cluster import Cluster, eventually, running

from kiln.machined.testing import NodeProcess
from kiln.machinery.client import ClientError

pytestmark = pytest.mark.integration


async def test_services_are_listed_and_published_as_resources(
    cluster: Cluster, configured: NodeProcess
) -> None:
    async with cluster.client(configured) as api:
        (listing,) = await api.service_list()
        (ticker,) = [s for s in listing.services if s.id == "ticker"]
        assert ticker.state == "running" and ticker.pid > 0
        (resource,) = await api.get("services", "ticker")
        assert resource.resource.spec.state == "running"
        assert resource.resource.spec.pid == ticker.pid


async def test_logs_tail_and_follow(cluster: Cluster, configured: NodeProcess) -> None:
    async with cluster.client(configured) as api:
        await eventually(lambda: _lines(api.logs("ticker", tail=3)), lambda lines: len(lines) == 3)
        followed: list[str] = []
        async with asyncio.timeout(10):
            async for line in api.logs("ticker", tail=1, follow=True):
                followed.append(line)
                if len(followed) == 4:
                    break
        numbers = [int(line.split()[1]) for line in followed]
        assert numbers == list(range(numbers[0], numbers[0] + 4))  # live, in order
        own = await _lines(api.logs("machined", tail=-1))
        assert any("phase running: started" in line for line in own)
        with pytest.raises(ClientError) as missing:
            await _lines(api.logs("no-such-service"))
        assert missing.value.code == "NOT_FOUND"


async def test_service_stop_start_and_restart(cluster: Cluster, configured: NodeProcess) -> None:
    async with cluster.client(configured) as api:
        (stopped,) = await api.service_action("stop", "ticker")
        assert "stopped" in stopped.response
        await eventually(
            lambda: api.get("services", "ticker"),
            lambda found: found[0].resource.spec.state == "stopped",
        )
        await api.service_action("start", "ticker")
        await eventually(lambda: api.get("machinestatus"), lambda found: running(found[0]))
        (before,) = await api.get("services", "ticker")
        await api.service_action("restart", "ticker")
        await eventually(
            lambda: api.get("services", "ticker"),
            lambda found: (
                found[0].resource.spec.running
                and found[0].resource.spec.pid != before.resource.spec.pid
            ),
        )


async def test_events_stream_phases_services_and_configs(
    cluster: Cluster, configured: NodeProcess
) -> None:
    async with cluster.client(configured) as api:
        seen = [event async for event in api.events()]
        types = {event.type for event in seen}
        assert {"phase", "service", "config"} <= types
        follower = api.events(tail=1, follow=True)
        await anext(follower)  # subscribed: what happens from now on is streamed
        restart = asyncio.create_task(api.service_action("restart", "ticker"), name="restart")
        async with asyncio.timeout(10):
            async for event in follower:
                if event.type == "service" and "ticker stopping" in event.message:
                    break
        await restart


async def test_watching_a_resource(cluster: Cluster, configured: NodeProcess) -> None:
    async with cluster.client(configured) as api:
        watch = api.watch("services", "ticker")
        first = await anext(watch)
        assert (first.type.value, first.resource and first.resource.id) == ("created", "ticker")
        assert (await anext(watch)).type.value == "bootstrapped"
        await api.service_action("stop", "ticker")
        async with asyncio.timeout(10):
            async for event in watch:
                assert event.type.value == "updated"
                if event.resource is not None and event.resource.spec.state == "stopped":
                    break
        await watch.aclose()


async def _lines(stream: object) -> list[str]:
    return [line async for line in stream]  # type: ignore[attr-defined]
