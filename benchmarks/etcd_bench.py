"""etcd start: from a node starting etcd to etcd healthy, beside a bare etcd start.

Run with ``.venv/bin/python benchmarks/etcd_bench.py`` (about 60 s). For each of ``RUNS`` runs
it starts a real ``kiln-machined --mode container`` node on a loopback address of its own,
applies a control-plane config, waits until the node runs (its etcd waiting for a bootstrap),
and times the ``Bootstrap`` call: the node writes the member config and certificates, starts
etcd as a service and answers once etcd is healthy. Then, with the node stopped, it starts the
same etcd binary with the same command line (the same TLS files and flags) on a fresh data
directory, and times it until the member is healthy by the node's own definition (the member's
status, asked over its client port with mutual TLS, names a leader), polling every 10 ms.
Results are printed as a Markdown table.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from kiln import process
from kiln.machined.etcd import EtcdCertPaths
from kiln.machined.etcd.probe import STATUS_PATH, probe_status
from kiln.machined.testing import NodeProcess
from kiln.machinery import client
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.kilnconfig import issue_context
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle

RUNS = 9
POLL = 0.01


def loopback_address() -> str:
    """A loopback address of its own: etcd's ports (2379, 2380) are fixed."""
    return f"127.{random.randrange(16, 250)}.{random.randrange(0, 256)}.{random.randrange(1, 255)}"


async def wait_running(context: object, node: NodeProcess) -> None:
    async with asyncio.timeout(30):
        while True:
            try:
                async with client.Client(client.resolve(context)) as api:  # type: ignore[arg-type]
                    (status,) = await api.get("machinestatus")
                if status.resource.spec.stage == "running":
                    return
            except client.ClientError:
                pass
            await asyncio.sleep(0.05)


def with_data_dir(argv: list[str], data_dir: Path) -> list[str]:
    """``argv`` with its ``--data-dir`` replaced by ``data_dir``."""
    out = []
    skip = False
    for arg in argv:
        if skip:
            out.append(str(data_dir))
            skip = False
        elif arg == "--data-dir":
            out.append(arg)
            skip = True
        elif arg.startswith("--data-dir="):
            out.append(f"--data-dir={data_dir}")
        else:
            out.append(arg)
    return out


async def node_start(work: Path) -> tuple[float, list[str], Path, str]:
    """Seconds of the Bootstrap call; etcd's command line, the node's state dir and address."""
    host = loopback_address()
    bundle = SecretsBundle.generate()
    configs = generate_configs("bench", f"https://{host}:6443", bundle)
    node = NodeProcess(work / f"node-{host}", host=host)
    await node.start()
    try:
        async with client.Client(
            client.resolve(None, endpoints=[node.endpoint], insecure=True)
        ) as api:
            await api.apply_configuration(configs.controlplane.to_yaml().encode())
        context = issue_context(bundle.os_ca, Role.ADMIN, endpoints=[node.endpoint])
        await wait_running(context, node)
        async with client.Client(client.resolve(context)) as api:
            started = time.perf_counter()
            await api.bootstrap()
            seconds = time.perf_counter() - started
            (listing,) = await api.service_list()
        (etcd,) = [s for s in listing.services if s.id == "etcd"]
        cmdline = await asyncio.to_thread(Path(f"/proc/{etcd.pid}/cmdline").read_bytes)
        argv = [arg.decode() for arg in cmdline.split(b"\0") if arg]
    finally:
        await node.stop()
    return seconds, argv, node.state_dir, host


async def bare_start(argv: list[str], state_dir: Path, host: str, data_dir: Path) -> float:
    """Seconds from spawning etcd with ``argv`` on a fresh ``data_dir`` to a healthy member."""
    tls = EtcdCertPaths(state_dir / "secrets" / "etcd").client_tls()
    target = f"https://{host}:2379{STATUS_PATH}"
    started = time.perf_counter()
    child = await process.spawn(with_data_dir(argv, data_dir), capture_output=False)
    try:
        async with asyncio.timeout(60):
            while True:
                if (await probe_status(target, tls)).ok:
                    return time.perf_counter() - started
                if child.returncode is not None:
                    raise RuntimeError(f"etcd exited with {child.returncode}")
                await asyncio.sleep(POLL)
    finally:
        await process.terminate(child)


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="etcd-bench-"))
    nodes, bares = [], []
    argv: list[str] = []
    for n in range(RUNS):
        seconds, argv, state_dir, host = await node_start(work)
        nodes.append(seconds)
        bares.append(await bare_start(argv, state_dir, host, work / f"bare-{n}"))
    node_median = statistics.median(nodes)
    bare_median = statistics.median(bares)
    print("| Measure | Value |")
    print("|---|---:|")
    print(f"| node: Bootstrap call to etcd healthy (median of {RUNS}) | {node_median:.3f} s |")
    print(f"| bare etcd: start to healthy, same binary and TLS | {bare_median:.3f} s |")
    print(f"| ratio | {node_median / bare_median:.2f} x |")
    print(f"etcd: {' '.join(argv)}")
    print(f"runs: node {[round(s, 3) for s in nodes]}, bare {[round(s, 3) for s in bares]}")


if __name__ == "__main__":
    asyncio.run(main())
