"""Node daemon figures: API latency over mutual TLS, idle memory, start-to-API-ready time,
watch events per second through the API.

Run with ``.venv/bin/python benchmarks/machined_bench.py`` (about 40 s). It starts real
``kiln-machined`` processes on loopback, and a minimal grpc.aio TLS server as the reference
for the start time. Watch events go through the node's API server (``ApiServer``: access and
forwarding interceptors, ``ResourceService/Watch``) in a child process whose in-memory state is
updated by a writer inside that process, as the node's controllers would. Results are printed
as a Markdown table.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import grpc
from pydantic import BaseModel

from kiln import process
from kiln.machined.api.control import NodeControl
from kiln.machined.api.forward import ForwardPolicy, OwnAddresses
from kiln.machined.api.identity import ServerIdentity
from kiln.machined.api.server import ApiServer
from kiln.machined.events import EventBus
from kiln.machined.testing import NodeProcess, free_port
from kiln.machinery import client
from kiln.machinery.api import machine_pb2, machine_pb2_grpc, resource_pb2, resource_pb2_grpc
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.kilnconfig import Context, issue_context
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle, Usage, issue_client_certificate
from kiln.resources import InMemoryState, Kind, Registry, Resource, definition

CALLS = 2000
WARMUP = 200
STARTS = 5
IDLE_SECONDS = 5.0
WATCH_RESOURCES = 100
WATCH_UPDATES = 20_000
WATCH_YIELD_EVERY = 200

REFERENCE_SERVER = """
import asyncio, sys
import grpc
from kiln.machinery.api import machine_pb2, machine_pb2_grpc

class Machine(machine_pb2_grpc.MachineServiceServicer):
    async def Version(self, request, context):
        return machine_pb2.VersionResponse(messages=[machine_pb2.Version()])

async def main(address, key, crt, ca):
    server = grpc.aio.server()
    machine_pb2_grpc.add_MachineServiceServicer_to_server(Machine(), server)
    read = lambda path: open(path, "rb").read()
    credentials = grpc.ssl_server_credentials(
        [(read(key), read(crt))], root_certificates=read(ca), require_client_auth=True
    )
    server.add_secure_port(address, credentials)
    await server.start()
    await server.wait_for_termination()

asyncio.run(main(*sys.argv[1:]))
"""


class Address(BaseModel):
    ip: str
    prefix: int


@definition("BenchStatus", namespace="bench", description="A spec of typical size.")
class BenchSpec(BaseModel):
    stage: str = "running"
    ready: bool = True
    counter: int = 0
    tags: list[str] = ["control-plane", "zone-a"]
    addresses: list[Address] = [Address(ip="10.0.0.1", prefix=24), Address(ip="fd00::1", prefix=64)]


BENCH_KIND = Kind.of(BenchSpec)


async def watch_server(address: str, identity: ServerIdentity) -> None:
    """The child process of :func:`watch_events`: an API server over an in-memory state; on
    ``go`` from stdin, WATCH_UPDATES updates round-robin over WATCH_RESOURCES resources."""
    registry = Registry([BenchSpec])
    state = InMemoryState(registry=registry, watch_capacity=WATCH_UPDATES + WATCH_RESOURCES + 1)
    node = SimpleNamespace(
        name="bench",
        maintenance=False,
        state=state,
        registry=registry,
        events=EventBus(),
        closing=asyncio.Event(),
    )
    host, _, port = address.rpartition(":")
    policy = ForwardPolicy(OwnAddresses(int(port), frozenset({host})), None)
    server = ApiServer(cast(NodeControl, node), address, identity, policy)
    await server.start()
    resources = [
        await state.create(Resource.new(f"r{n:03}", BenchSpec(), labels={"bench": "yes"}))
        for n in range(WATCH_RESOURCES)
    ]
    loop = asyncio.get_running_loop()
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    for n in range(WATCH_UPDATES):
        slot = n % len(resources)
        resources[slot].spec.counter += 1
        resources[slot] = await state.update(resources[slot])
        if n % WATCH_YIELD_EVERY == WATCH_YIELD_EVERY - 1:
            await asyncio.sleep(0)
    await loop.run_in_executor(None, sys.stdin.readline)  # until the parent closes stdin
    node.closing.set()
    await server.stop()


async def watch_events(work: Path, creds: grpc.ChannelCredentials) -> float:
    """Events per second one client receives through ResourceService/Watch over mutual TLS,
    decoding each resource, from the writer's start until the last update arrived."""
    address = f"127.0.0.1:{free_port()}"
    argv = [sys.executable, __file__, "--watch-server", address]
    argv += [str(work / f"ref.{name}") for name in ("key", "crt", "ca")]
    child = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        if (await child.stdout.readline()).strip() != b"ready":
            raise RuntimeError("the watch server did not start")
        request = resource_pb2.WatchRequest(
            namespace=BENCH_KIND.namespace, type=BENCH_KIND.type, label_selector="bench=yes"
        )
        seen = 0
        started = 0.0
        async with grpc.aio.secure_channel(address, creds) as channel:
            stub = resource_pb2_grpc.ResourceServiceStub(channel)
            async for answer in stub.Watch(request):
                if answer.event_type == resource_pb2.BOOTSTRAPPED:
                    started = time.perf_counter()
                    child.stdin.write(b"go\n")
                    await child.stdin.drain()
                elif answer.event_type == resource_pb2.UPDATED:
                    json.loads(answer.resource.json)  # decode it, as a real consumer would
                    seen += 1
                    if seen == WATCH_UPDATES:
                        return WATCH_UPDATES / (time.perf_counter() - started)
                elif answer.event_type == resource_pb2.ERRORED:
                    raise RuntimeError(f"watch ended: {answer.error}")
        raise RuntimeError("the watch ended early")
    finally:
        child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), 10)
        except TimeoutError:
            child.kill()
            await child.wait()


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def rss(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon and RssFile of a process, in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            found[key] = int(value.split()[0])
    return found


def channel_credentials(bundle: SecretsBundle) -> grpc.ChannelCredentials:
    admin = issue_client_certificate(bundle.os_ca, Role.ADMIN)
    return grpc.ssl_channel_credentials(
        bundle.os_ca.certificate.pem, admin.key.pem, admin.certificate.pem
    )


async def latencies(endpoint: str, creds: grpc.ChannelCredentials) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"Version": [], "Get machinestatus": []}
    async with grpc.aio.secure_channel(endpoint, creds) as channel:
        machine = machine_pb2_grpc.MachineServiceStub(channel)
        resources = resource_pb2_grpc.ResourceServiceStub(channel)
        version = machine_pb2.VersionRequest()
        get = resource_pb2.GetRequest(type="machinestatus", id="machine")
        for name, call in (
            ("Version", lambda: machine.Version(version, timeout=5)),
            ("Get machinestatus", lambda: resources.Get(get, timeout=5)),
        ):
            for n in range(WARMUP + CALLS):
                started = time.perf_counter()
                await call()
                if n >= WARMUP:
                    results[name].append((time.perf_counter() - started) * 1000)
    return results


async def time_to_first_version(
    argv: list[str], endpoint: str, creds: grpc.ChannelCredentials
) -> tuple[float, process.Child]:
    """Seconds from spawning ``argv`` to its first answer to Version."""
    started = time.perf_counter()
    child = await process.spawn(argv, capture_output=False)
    while True:
        async with grpc.aio.secure_channel(endpoint, creds) as channel:
            stub = machine_pb2_grpc.MachineServiceStub(channel)
            try:
                await stub.Version(machine_pb2.VersionRequest(), timeout=1)
                return time.perf_counter() - started, child
            except grpc.aio.AioRpcError:
                pass
        if child.returncode is not None:
            raise RuntimeError(f"{argv[0]} exited with {child.returncode}")
        await asyncio.sleep(0.005)


async def until_running(context: Context, endpoint: str) -> None:
    """Until the node's machine status says it runs (its boot is complete)."""
    target = client.resolve(context, endpoints=[endpoint])
    while True:
        async with client.Client(target) as api:
            (status,) = await api.get("machinestatus")
        if status.resource.spec.stage == "running":
            return
        await asyncio.sleep(0.005)


async def main() -> None:
    bundle = SecretsBundle.generate()
    configs = generate_configs("bench", "https://127.0.0.1:6443", bundle)
    creds = channel_credentials(bundle)
    work = Path(tempfile.mkdtemp(prefix="machined-bench-"))

    node = NodeProcess(work / "node")
    await node.start()
    target = client.resolve(None, endpoints=[node.endpoint], insecure=True)
    async with client.Client(target) as api:
        await api.apply_configuration(configs.controlplane.to_yaml().encode())
    context = issue_context(bundle.os_ca, Role.ADMIN, endpoints=[node.endpoint])
    for _ in range(200):
        try:
            async with client.Client(client.resolve(context)) as api:
                (status,) = await api.get("machinestatus")
            if status.resource.spec.ready:
                break
        except client.ClientError:
            pass
        await asyncio.sleep(0.05)
    measured = await latencies(node.endpoint, creds)
    await asyncio.sleep(IDLE_SECONDS)
    assert node.pid is not None
    memory = rss(node.pid)
    await node.stop()

    node_starts, node_boots = [], []
    for _ in range(STARTS):
        argv = node.argv
        started = time.perf_counter()
        seconds, child = await time_to_first_version(argv, node.endpoint, creds)
        node_starts.append(seconds)
        await until_running(context, node.endpoint)
        node_boots.append(time.perf_counter() - started)
        await process.terminate(child)

    server = bundle.os_ca.issue("ref", Usage.SERVER, timedelta(days=1), ip_addresses=["127.0.0.1"])
    files = {
        "key": server.key.pem,
        "crt": server.certificate.pem,
        "ca": bundle.os_ca.certificate.pem,
    }
    for name, data in files.items():
        (work / f"ref.{name}").write_bytes(data)
    script = work / "reference.py"
    script.write_text(REFERENCE_SERVER)
    reference_starts = []
    reference_memory: dict[str, int] = {}
    for n in range(STARTS):
        address = f"127.0.0.1:{free_port()}"
        argv = [sys.executable, str(script), address]
        argv += [str(work / f"ref.{name}") for name in ("key", "crt", "ca")]
        seconds, child = await time_to_first_version(argv, address, creds)
        reference_starts.append(seconds)
        if n == 0:
            await asyncio.sleep(IDLE_SECONDS)
            reference_memory = rss(child.pid)
        await process.terminate(child)

    watch_rates = [await watch_events(work, creds) for _ in range(3)]

    print("| Measure | Value |")
    print("|---|---:|")
    for name, samples in measured.items():
        print(f"| {name} p50 (mTLS, loopback) | {percentile(samples, 0.5):.2f} ms |")
        print(f"| {name} p99 (mTLS, loopback) | {percentile(samples, 0.99):.2f} ms |")
    print(f"| idle RSS, configured node | {memory['VmRSS'] / 1024:.1f} MiB |")
    print(
        f"| of which anonymous / file-backed | {memory['RssAnon'] / 1024:.1f} / "
        f"{memory['RssFile'] / 1024:.1f} MiB |"
    )
    print(
        f"| idle RSS, minimal grpc.aio TLS server (reference) | "
        f"{reference_memory['VmRSS'] / 1024:.1f} MiB |"
    )
    node_median = statistics.median(node_starts)
    reference_median = statistics.median(reference_starts)
    print(f"| start to API ready, configured node (median of {STARTS}) | {node_median:.3f} s |")
    print(f"| start to API ready, minimal grpc.aio TLS server | {reference_median:.3f} s |")
    print(f"| ratio | {node_median / reference_median:.2f} x |")
    boot_median = statistics.median(node_boots)
    print(f"| start to boot complete (stage running), median | {boot_median:.3f} s |")
    watch_median = statistics.median(watch_rates)
    print(f"| Watch events/s, 1 client (mTLS, loopback, median of 3) | {watch_median:,.0f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--watch-server"]:
        key, crt, ca = (Path(name).read_bytes() for name in sys.argv[3:6])
        asyncio.run(watch_server(sys.argv[2], ServerIdentity(key, crt, ca)))
    else:
        asyncio.run(main())
