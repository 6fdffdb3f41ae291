"""``kilnctl upgrade-k8s --to VERSION [--dry-run]``: upgrade the cluster's Kubernetes, control
planes first, one node at a time (:mod:`kiln.ctl.k8s_upgrade` says in which order and why).

Each step applies the node's config with the new version live (no reboot); the node fetches and
verifies the binaries before it stops anything, then restarts the step's services one at a
time, each healthy before the next. The command waits until every one of them runs again as a
new, healthy process before it goes to the next node. Run again after an interruption, it goes
on where it stopped.
"""

from __future__ import annotations

import asyncio
import time

import click

from kiln.ctl import connect, render
from kiln.ctl.errors import CliError
from kiln.ctl.k8s_upgrade import NodeVersions, Step, check_target, patched, plan
from kiln.ctl.options import split_list
from kiln.machinery.applymode import ApplyMode
from kiln.machinery.client import Client
from kiln.machinery.config import MachineConfig
from kiln.machinery.resources import MachineConfigSpec

STEP_TIMEOUT = 600.0
POLL = 2.0


@click.command("upgrade-k8s")
@click.option("--to", "target", required=True, metavar="VERSION", help="e.g. v1.36.1")
@click.option("--dry-run", is_flag=True, help="Check and show the steps; change nothing.")
@connect.node_options
def upgrade_k8s(
    target: str, dry_run: bool, endpoints: tuple[str, ...], nodes: tuple[str, ...]
) -> None:
    """Upgrade Kubernetes on the nodes (-n, else the endpoints), control planes first."""
    targets = split_list(nodes) or split_list(endpoints) or connect.target(endpoints).nodes
    if not targets:
        raise CliError("no nodes to upgrade: give -n/--nodes")
    target = target if target.startswith("v") else f"v{target}"
    found = connect.run(_versions(endpoints, targets))
    check_target(found, target)
    steps = plan(found, target)
    out = render.console()
    if not steps:
        out.print(f"every node runs Kubernetes {target}: nothing to do")
        return
    for step in steps:
        out.print(f"{'would upgrade' if dry_run else 'upgrade'} {step}")
    if dry_run:
        return
    for number, step in enumerate(steps, 1):
        with out.status(f"[{number}/{len(steps)}] {step}", spinner="dots"):
            seconds = connect.run(_carry_out(endpoints, step, target))
        out.print(
            f"[{number}/{len(steps)}] {step.node}: {step.kind.value} on {target} "
            f"and healthy ({seconds:.0f}s)"
        )
    out.print(f"upgraded to Kubernetes {target}")


async def _config(api: Client) -> MachineConfig:
    (found,) = await api.get("machineconfig")
    spec = found.resource.spec
    if not isinstance(spec, MachineConfigSpec):
        raise CliError(f"{api.node}: the node answered no machine config")
    return spec.config(f"{api.node}'s machine config")


async def _versions(endpoints: tuple[str, ...], nodes: tuple[str, ...]) -> list[NodeVersions]:
    found = []
    for node in nodes:
        async with connect.client(endpoints, (node,)) as api:
            found.append(NodeVersions.of(node, await _config(api)))
    return found


async def _pids(api: Client) -> dict[str, tuple[int, str, str]]:
    listings = await api.service_list()
    return {s.id: (s.pid, s.state, s.health) for listing in listings for s in listing.services}


async def _carry_out(endpoints: tuple[str, ...], step: Step, target: str) -> float:
    """Apply the step's config and wait for its services to run anew; its duration."""
    started = time.monotonic()
    async with connect.client(endpoints, (step.node,)) as api:
        config = await _config(api)
        before = await _pids(api)
        data = patched(config, step.kind, target).to_yaml().encode()
        await api.apply_configuration(data, ApplyMode.NO_REBOOT)
        deadline = started + STEP_TIMEOUT
        waiting = list(step.kind.services)
        while waiting:
            if time.monotonic() > deadline:
                raise CliError(
                    f"{step.node}: {waiting[0]} did not come back healthy within "
                    f"{STEP_TIMEOUT:g}s (kilnctl logs {waiting[0]}); run upgrade-k8s again "
                    "to go on"
                )
            await asyncio.sleep(POLL)
            now = await _pids(api)
            waiting = [
                name
                for name in step.kind.services
                if name not in now
                or now[name][0] == before.get(name, (0, "", ""))[0]
                or now[name][1:] != ("running", "healthy")
            ]
    return time.monotonic() - started
