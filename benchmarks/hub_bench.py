"""Kiln Hub figures with simulated machines: hub RSS and CPU, and the latency of
``ListMachines`` (what ``kiln-hub get machines`` calls) and of a machine API call relayed
through a machine's connection, at 100 and 1,000 connected machines.

Run with ``.venv/bin/python benchmarks/hub_bench.py [COUNT ...]`` (default 100 1000; about
3 minutes). It starts a real ``kiln-hub serve`` and one real ``kiln-machined`` in maintenance
mode on loopback (127.88.x.x), then a simulator process that runs COUNT machine links: the
node daemon's own link code (:class:`kiln.machined.hublink.HubLink`: join with a token, one
mutual-TLS connection of link messages, pings when silent, tunnel), each with its own
identity and TCP connection. Every simulated machine's tunnel leads to the real node's API, so
a relayed Version call goes hub → simulated machine's link → real API. Results are printed as
a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kiln import process
from kiln.hub.server import GC_THRESHOLDS
from kiln.hub.testing import HubProcess
from kiln.machined.hublink import HubLink
from kiln.machined.testing import NodeProcess
from kiln.machinery.api import hub_pb2
from kiln.machinery.api import hublink_pb2 as pb

HUB_HOST = "127.88.0.1"
NODE_HOST = "127.88.3.1"
CALLS = 200
RELAYS = 100
IDLE_SECONDS = 10.0
JOIN_BATCH = 20  # machines that start joining each second
CONNECT_TIMEOUT = 900.0
TICKS = os.sysconf("SC_CLK_TCK")


# The simulator (a child process) -------------------------------------------------------------


async def simulate(url: str, token: str, first: int, count: int, root: Path, api: str) -> None:
    # Each simulated machine stands for a machine of its own: the pauses of one collector
    # over all their objects would show in relayed calls as if they were the hub's.
    gc.set_threshold(*GC_THRESHOLDS)
    host, port = api.rsplit(":", 1)
    certificate = (root / "api.crt").read_bytes()
    links = []
    for index in range(first, first + count):
        machine = str(uuid.uuid5(uuid.NAMESPACE_URL, f"kiln-sim-{index}"))
        facts = pb.Facts(
            hostname=f"sim-{index}",
            addresses=[f"10.{index // 65536}.{index // 256 % 256}.{index % 256}"],
            version="0.1.0",
            stage="maintenance",
            maintenance=True,
            cpus=4,
            memory=8 << 30,
            platform="simulated",
            api_certificate=certificate,
        )

        async def source(machine: str = machine, facts: pb.Facts = facts) -> tuple[str, pb.Facts]:
            return machine, facts

        link = HubLink(url, token, root / f"m{index}", source, api_address=(host, int(port)))
        links.append(asyncio.create_task(link.run(), name=f"sim {index}"))
        if index % JOIN_BATCH == 0:
            await asyncio.sleep(1.0)  # machines joining at a steady pace, not all at once
    await asyncio.gather(*links)


# The measurements ----------------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


async def connected(hub: HubProcess) -> list[str]:
    async with hub.client() as api:
        reply = await api.ListMachines(hub_pb2.ListRequest(selector="kiln.dev/connected=true"))
    return [json.loads(text)["metadata"]["id"] for text in reply.resources]


async def measure(hub: HubProcess, count: int, started: float) -> dict[str, str]:
    while len(machines := await connected(hub)) < count:
        if time.monotonic() - started > CONNECT_TIMEOUT:
            raise SystemExit(f"only {len(machines)} of {count} machines connected")
        await asyncio.sleep(1.0)
    connect_time = time.monotonic() - started
    await asyncio.sleep(3.0)  # the controllers settle
    assert hub.pid is not None
    before = cpu_seconds(hub.pid)
    await asyncio.sleep(IDLE_SECONDS)
    idle_cpu = (cpu_seconds(hub.pid) - before) / IDLE_SECONDS * 100
    rss = rss_mib(hub.pid)
    listing: list[float] = []
    relayed: list[float] = []
    async with hub.client() as api:
        for _ in range(CALLS):
            start = time.perf_counter()
            reply = await api.ListMachines(hub_pb2.ListRequest())
            listing.append(time.perf_counter() - start)
        assert len(reply.resources) >= count
        for _ in range(RELAYS):
            request = hub_pb2.MachineRequest(id=random.choice(machines))
            start = time.perf_counter()
            await api.MachineVersion(request)
            relayed.append(time.perf_counter() - start)
    list_p50, list_p99 = percentiles(listing)
    relay_p50, relay_p99 = percentiles(relayed)
    return {
        "machines": f"{count:,}",
        "all connected after": f"{connect_time:.0f} s",
        "hub RSS": f"{rss:.0f} MiB",
        "hub CPU idle": f"{idle_cpu:.1f} %",
        "get machines p50/p99": f"{list_p50:.0f} / {list_p99:.0f} ms",
        "relayed Version p50/p99": f"{relay_p50:.0f} / {relay_p99:.0f} ms",
    }


async def bench(counts: list[int]) -> list[dict[str, str]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        root = Path(tmp)
        simulators: list[process.Child] = []
        copiers: list[asyncio.Task[None]] = []
        async with (
            HubProcess(root / "hub", host=HUB_HOST) as hub,
            NodeProcess(root / "node", host=NODE_HOST) as node,
        ):
            sims = root / "sims"
            sims.mkdir()
            (sims / "api.crt").write_bytes((node.state_dir / "maintenance/tls.crt").read_bytes())
            async with hub.client() as api:
                token = (await api.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())).token
            running = 0
            try:
                for count in sorted(counts):
                    started = time.monotonic()
                    argv = [sys.executable, __file__, "--simulate", hub.url, token]
                    argv += [str(running), str(count - running), str(sims), node.endpoint]
                    log = root / f"simulator-{count}.log"
                    simulators.append(await process.spawn(argv))
                    copiers.append(asyncio.create_task(process.copy_output(simulators[-1], log)))
                    running = count
                    results.append(await measure(hub, count, started))
                    print(results[-1], file=sys.stderr)
            finally:
                for child in simulators:
                    await process.terminate(child, 5.0)
                for copier in copiers:
                    await process.finish_copy(copier)
                report_link_problems(root)
    return results


def report_link_problems(root: Path) -> None:
    """What the simulated machines' links logged (joins refused, connections lost)."""
    for log in sorted(root.glob("simulator-*.log")):
        problems = [line for line in log.read_text().splitlines() if "hub" in line]
        print(f"{log.name}: {len(problems)} link problems", *problems[:5], sep="\n")


def table(results: list[dict[str, str]]) -> str:
    headers = list(results[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row[h] for h in headers) + " |" for row in results]
    return "\n".join(lines)


def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if len(sys.argv) > 1 and sys.argv[1] == "--simulate":
        logging.basicConfig(level="WARNING", format="%(asctime)s %(name)s: %(message)s")
        url, token, first, count, root, api = sys.argv[2:8]
        asyncio.run(simulate(url, token, int(first), int(count), Path(root), api))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="*", type=int, default=[100, 1000])
    counts = parser.parse_args().counts
    print(table(asyncio.run(bench(counts))))


if __name__ == "__main__":
    main()
