"""``kilnctl machines create|show|destroy``: a pool of VMs left in maintenance mode that join a
hub, for the hub to make clusters of (the way machines anywhere show up in its inventory)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from kiln.ctl import connect, render
from kiln.ctl.cluster import (
    CPUS_OPTION,
    MEMORY_OPTION,
    STATE_OPTION,
    ProgressLines,
    disk_option,
    existing,
    nodes_table,
    provisioner_for,
)
from kiln.ctl.cluster import vm_image as read_vm_image
from kiln.machinery.hubjoin import load_hub_join
from kiln.provision.request import ClusterRequest, HubJoin, VMResources


@click.group("machines")
def machines() -> None:
    """Boot, show and remove pools of VMs in maintenance mode that join a hub."""


@machines.command("create")
@click.option("--name", required=True, help="The pool's name.")
@click.option("--count", type=click.IntRange(1, 200), default=3, show_default=True)
@click.option(
    "--image",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The output directory of `kilnctl image build` to boot the VMs from.",
)
@click.option(
    "--hub-join",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A HubJoinConfig document (kiln-hub jointoken create -o FILE): the hub to join.",
)
@click.option(
    "--hub-machine-port",
    type=click.IntRange(1, 65535),
    default=8444,
    show_default=True,
    help="The hub's machine port (kiln-hub serve --machine-listen), on the URL's host.",
)
@MEMORY_OPTION
@CPUS_OPTION
@disk_option(0)
@STATE_OPTION
def create(
    name: str,
    count: int,
    image: Path,
    hub_join: Path | None,
    hub_machine_port: int,
    memory: int,
    cpus: int,
    disk_gib: int,
    state_root: Path | None,
) -> None:
    """Boot COUNT VMs from the image in maintenance mode, joined to the hub if given."""
    hub = None
    if hub_join is not None:
        document = load_hub_join(hub_join)
        hub = HubJoin(document.url, document.join_token, hub_machine_port)
    request = ClusterRequest(
        name,
        machines=count,
        state_root=state_root,
        image=read_vm_image(image),
        vm=VMResources(memory_mb=memory, cpus=cpus, disk_gib=disk_gib),
        hub=hub,
    )
    render.console().print(
        f"booting {count} machine(s) in maintenance mode"
        + (f", joining {escape(hub.url)}" if hub else "")
        + f"; state in {escape(str(request.state_dir))}"
    )
    record = connect.run(provisioner_for("qemu", ProgressLines()).create(request))
    nodes_table(record)
    render.console().print(f"remove them with: kilnctl machines destroy --name {name}")


@machines.command("show")
@click.option("--name", required=True, help="The pool's name.")
@STATE_OPTION
@click.pass_context
def show(ctx: click.Context, name: str, state_root: Path | None) -> None:
    """Show a pool's machines, addresses and whether their VMs run."""
    from kiln.ctl.cluster import show as show_cluster

    ctx.invoke(show_cluster, name=name, state_root=state_root)


@machines.command("destroy")
@click.option("--name", required=True, help="The pool's name.")
@STATE_OPTION
def destroy(name: str, state_root: Path | None) -> None:
    """Power a pool's VMs off and remove its network and state."""
    done = connect.run(existing(name, state_root, ProgressLines()).destroy(name))
    render.console().print(f"removed {escape(str(done.state_dir))}")
