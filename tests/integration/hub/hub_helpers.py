"""Helpers of the hub tests."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio

from kiln.commandline import run_main
from kiln.ctl.main import run as kilnctl_run
from kiln.hub.cli.connection import connect_clusters
from kiln.hub.clientconfig import FILE_NAME
from kiln.hub.main import cli as hub_cli
from kiln.hub.testing import HubProcess
from kiln.machined.testing import NodeProcess
from kiln.machinery.api import hub_pb2, hubcluster_pb2
from kiln.machinery.hubjoin import hub_join_document
from kiln.machinery.privatefile import write_private_file
from kiln.machinery.probe import free_port
from kiln.resources.pgserver import PostgresServer


def code_of(err: BaseException) -> grpc.StatusCode:
    """The status of a failed hub call."""
    assert isinstance(err, grpc.aio.AioRpcError), err
    return err.code()


async def until(check: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Wait until ``check`` says yes; TimeoutError after ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)


BACKENDS = ["sqlite", "postgresql"]


@contextlib.asynccontextmanager
async def hub_process(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, host: str
) -> AsyncIterator[HubProcess]:
    """A hub on ``host`` whose database is the fixture's parameter (one of :data:`BACKENDS`)."""
    data: Path = tmp_path_factory.mktemp("hub") / "data"
    database = None
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        database = await server.new_database("hub")
    async with HubProcess(data, host=host, database=database) as started:
        yield started


def module_hub(host: str, backends: list[str] = BACKENDS) -> Any:
    """A module's ``hub`` fixture: one hub on ``host`` per backend, for the module's tests."""

    @pytest_asyncio.fixture(scope="module", loop_scope="module", params=backends)
    async def hub(
        request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
    ) -> AsyncIterator[HubProcess]:
        async with hub_process(request, tmp_path_factory, host) as started:
            yield started

    return hub


@dataclass(frozen=True)
class Ran:
    """What a command run in this process printed, and its exit code."""

    returncode: int
    stdout: str
    stderr: str


async def _in_process(main: Callable[[list[str]], int], args: list[str]) -> Ran:
    """Run a command line in a thread of its own (it runs its own event loop)."""

    def work() -> Ran:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
        return Ran(code, out.getvalue(), err.getvalue())

    return await asyncio.to_thread(work)


def _hub_main(args: list[str]) -> int:
    try:
        run_main(hub_cli, "kiln-hub", args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


async def kiln_hub(hub: HubProcess, *args: str, key: str | None = None) -> Ran:
    """``kiln-hub`` with the hub's client config and an API key (the initial admin's)."""
    config = str(hub.data_dir / FILE_NAME)
    access = ["--config", config, "--api-key", hub.admin_key if key is None else key]
    return await _in_process(_hub_main, [*access, *args])


async def kilnctl(config: Path, *args: str) -> Ran:
    """``kilnctl --kilnconfig CONFIG ...``."""
    return await _in_process(kilnctl_run, ["--kilnconfig", str(config), *args])


async def join_file(hub: HubProcess, directory: Path) -> Path:
    """A HubJoinConfig file with a new join token of ``hub`` (reconnecting within 2 s)."""
    async with hub.client() as api:
        token = (await api.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())).token
    path = directory / "hubjoin.yaml"
    document = hub_join_document(hub.url, token, reconnect_max_backoff="2s")
    write_private_file(path, json.dumps(document))
    return path


async def wait_machines(hub: HubProcess, count: int, selector: str) -> list[dict[str, Any]]:
    """The machines of the inventory matching ``selector``, once there are ``count``."""
    found: list[dict[str, Any]] = []

    async def enough() -> bool:
        nonlocal found
        async with hub.client() as api:
            reply = await api.ListMachines(hub_pb2.ListRequest(selector=selector))
        found = [json.loads(text) for text in reply.resources]
        return len(found) == count

    await until(enough, within=60.0)
    return found


@contextlib.asynccontextmanager
async def joined_nodes(
    hub: HubProcess, root: Path, hosts: Sequence[str], pool: str
) -> AsyncIterator[dict[str, NodeProcess]]:
    """Nodes in maintenance mode on ``hosts``, joined to the hub through their outbound link
    and labelled ``pool=<pool>``; by UUID."""
    joining = await join_file(hub, root)
    trust_port = free_port(hosts[0])  # one per cluster, as for any cluster's nodes
    started = [
        NodeProcess(root / f"n{i}", host=host, trust_port=trust_port, hub_join=joining)
        for i, host in enumerate(hosts)
    ]
    try:
        await asyncio.gather(*(node.start() for node in started))
        found = await wait_machines(
            hub, len(started), "kiln.dev/stage=maintenance,kiln.dev/connected=true"
        )
        async with hub.client() as api:
            for machine in found:
                request = hub_pb2.LabelMachineRequest(
                    id=machine["metadata"]["id"], set={"pool": pool}
                )
                await api.LabelMachine(request)
        by_host = {node.host: node for node in started}
        yield {m["metadata"]["id"]: by_host[m["spec"]["hostname"]] for m in found}
    finally:
        await asyncio.gather(*(node.stop() for node in started if node.pid is not None))


def kiln_hub_run(
    hub: HubProcess, *args: str, key: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``kiln-hub ARGS`` in a process of its own, as the hub's admin unless ``key`` is given
    (what a test that kills or restarts the hub meanwhile needs)."""
    env = {**os.environ, "KILN_HUB_CONFIG": str(hub.data_dir / "client.yaml")}
    env["KILN_HUB_API_KEY"] = hub.admin_key if key is None else key
    argv = [sys.executable, "-m", "kiln.hub", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=200, check=False)


async def cluster_of(hub: HubProcess, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Cluster resource and its status' spec."""
    async with connect_clusters(hub.access()) as api:
        reply = await api.GetCluster(hubcluster_pb2.ClusterRequest(id=name))
    found = [json.loads(text) for text in reply.resources]
    return found[0], found[1]["spec"]


def nodes_fixture(hosts: Sequence[str], pool: str) -> Any:
    """A module's ``nodes`` fixture: nodes on ``hosts`` joined to its hub (:func:`joined_nodes`)."""

    @pytest_asyncio.fixture(scope="module", loop_scope="module", name="nodes")
    async def nodes(
        hub: HubProcess, tmp_path_factory: pytest.TempPathFactory
    ) -> AsyncIterator[dict[str, NodeProcess]]:
        root = tmp_path_factory.mktemp(f"{pool}-nodes")
        async with joined_nodes(hub, root, hosts, pool) as started:
            yield started

    return nodes
