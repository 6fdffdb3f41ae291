"""``kilnctl cluster create|show|destroy``: local clusters of container-mode nodes or of VMs
booted from a built image (``--provisioner qemu --image DIR``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click
from rich.markup import escape

from kiln.ctl import connect, render
from kiln.ctl.connect import FC
from kiln.ctl.options import global_options
from kiln.machinery.config import Patch, parse_patch
from kiln.machinery.config.model import DEFAULT_KUBERNETES_VERSION
from kiln.provision import (
    ClusterRecord,
    ClusterRequest,
    ContainerProvisioner,
    Progress,
    ProgressCallback,
    Status,
)
from kiln.provision.record import load_record
from kiln.provision.request import VMImage, VMResources, cluster_dir

PROVISIONERS = ("container", "qemu")
MARKS = {Status.DONE: "[green]✓[/]", Status.FAILED: "[red]✗[/]", Status.WAITING: "[dim]…[/]"}

_NAME = click.option("--name", required=True, help="The cluster's name.")
STATE_OPTION = click.option(
    "--state",
    "state_root",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory holding one directory per cluster [default: ~/.kiln/clusters].",
)


MEMORY_OPTION = click.option(
    "--memory",
    type=click.IntRange(512, 65536),
    default=1024,
    show_default=True,
    help="qemu: MiB of memory per VM.",
)
CPUS_OPTION = click.option(
    "--cpus", type=click.IntRange(1, 64), default=1, show_default=True, help="qemu: vCPUs per VM."
)


def disk_option(default: int) -> Callable[[FC], FC]:
    return click.option(
        "--disk-size",
        "disk_gib",
        type=click.IntRange(0, 1024),
        default=default,
        show_default=True,
        metavar="GIB",
        help="qemu: each VM boots the image's ISO and installs to a disk of this many GiB "
        "(sparse); 0: no disk, VMs boot kernel and initramfs and run from memory.",
    )


@click.group("cluster")
def cluster() -> None:
    """Create, show and destroy local clusters."""


@cluster.command("create")
@click.option(
    "--provisioner", type=click.Choice(PROVISIONERS), default="container", show_default=True
)
@_NAME
@click.option("--controlplanes", type=click.IntRange(1, 9), default=1, show_default=True)
@click.option("--workers", type=click.IntRange(0, 200), default=0, show_default=True)
@click.option("--kubernetes-version", help=f"[default: {DEFAULT_KUBERNETES_VERSION}]")
@click.option(
    "--config-patch",
    "config_patches",
    multiple=True,
    metavar="@FILE|YAML",
    help="Patch every node's config (@file or inline YAML/JSON); repeat to apply several.",
)
@click.option(
    "--image",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="qemu: the output directory of `kilnctl image build` to boot the VMs from.",
)
@MEMORY_OPTION
@CPUS_OPTION
@disk_option(4)
@STATE_OPTION
def create(
    provisioner: str,
    name: str,
    controlplanes: int,
    workers: int,
    kubernetes_version: str | None,
    config_patches: tuple[str, ...],
    image: Path | None,
    memory: int,
    cpus: int,
    disk_gib: int,
    state_root: Path | None,
) -> None:
    """Start a cluster of nodes on this machine, bootstrap it, add a kilnconfig context."""
    booted = None
    if provisioner == "qemu":
        if image is None:
            raise click.UsageError("--provisioner qemu needs --image DIR (kilnctl image build)")
        booted = vm_image(image)
    elif image is not None:
        raise click.UsageError("--image is for --provisioner qemu")
    request = ClusterRequest(
        name,
        controlplanes=controlplanes,
        workers=workers,
        kubernetes_version=kubernetes_version,
        config_patches=_patches(config_patches),
        state_root=state_root,
        kilnconfig=global_options().kilnconfig_path,
        image=booted,
        vm=VMResources(memory_mb=memory, cpus=cpus, disk_gib=disk_gib if booted else 0),
    )
    out = render.console()
    out.print(
        f"creating cluster {name}: {controlplanes} control plane(s), {workers} worker(s), "
        f"state in {escape(str(request.state_dir))}"
    )
    state = f" --state {state_root}" if state_root is not None else ""
    try:
        record = connect.run(provisioner_for(provisioner, ProgressLines()).create(request))
    except KeyboardInterrupt:
        click.echo(
            f"the cluster's state stays in {request.state_dir}; "
            f"kilnctl cluster destroy --name {name}{state} removes it",
            err=True,
        )
        raise
    nodes_table(record)
    out.print(f"kilnconfig: context {record.context} in {escape(str(record.kilnconfig))}")
    out.print(f"destroy it with: kilnctl cluster destroy --name {name}{escape(state)}")


@cluster.command("show")
@_NAME
@STATE_OPTION
def show(name: str, state_root: Path | None) -> None:
    """Show a cluster's nodes, addresses and whether their daemons run."""
    view = connect.run(existing(name, state_root).show(name))
    record = view.record
    render.console().print(
        f"cluster {name}: {'complete' if record.complete else 'incomplete (create did not finish)'}"
        f", state in {escape(record.state_dir)}"
    )
    rows = []
    for node in view.nodes:
        if node.alive:
            daemon = "running" if node.listening else "running, API not listening"
            if record.provisioner == "qemu":
                daemon = "VM " + daemon
        else:
            daemon = "dead" if node.node.pid else "not started"
            if node.leftovers:
                daemon += f" ({', '.join(node.leftovers)} still running)"
        rows.append(
            [
                node.node.name,
                node.node.role.value,
                node.node.address,
                str(node.node.pid or "-"),
                daemon,
            ]
        )
    render.table(["node", "role", "address", "pid", "daemon"], rows)


@cluster.command("destroy")
@_NAME
@STATE_OPTION
def destroy(name: str, state_root: Path | None) -> None:
    """Stop a cluster's nodes and remove its state and kilnconfig context."""
    done = connect.run(existing(name, state_root, ProgressLines()).destroy(name))
    out = render.console()
    out.print(escape(done.context))
    out.print(f"removed {escape(str(done.state_dir))}")


class ProgressLines:
    """Progress as lines: each step's outcome on each node, and what it waits for."""

    def __init__(self) -> None:
        self.console = render.console()

    def __call__(self, event: Progress) -> None:
        mark = MARKS.get(event.status)
        if mark is None:
            return
        node = f" [bold]{escape(event.node)}[/]" if event.node else ""
        detail = f": {escape(event.detail)}" if event.detail else ""
        style = "dim" if event.status is Status.WAITING else ""
        text = f"{mark} {escape(event.step)}{node}{detail}"
        self.console.print(f"[{style}]{text}[/]" if style else text)


def nodes_table(record: ClusterRecord) -> None:
    render.table(
        ["node", "role", "address", "pid"],
        [[n.name, n.role.value, n.address, str(n.pid or "-")] for n in record.nodes],
    )


def _patches(arguments: tuple[str, ...]) -> list[Patch]:
    return [
        parse_patch(text, source=None if text.startswith("@") else f"--config-patch {number}")
        for number, text in enumerate(arguments, start=1)
    ]


def provisioner_for(
    kind: str, progress: ProgressCallback | None = None, state_root: Path | None = None
) -> ContainerProvisioner:
    if kind == "qemu":
        from kiln.provision.qemu.provisioner import QemuProvisioner  # loads the VM network code

        return QemuProvisioner(progress or _quiet, state_root=state_root)
    return ContainerProvisioner(progress or _quiet, state_root=state_root)


def existing(
    name: str, state_root: Path | None, progress: ProgressCallback | None = None
) -> ContainerProvisioner:
    """The provisioner that made cluster ``name`` (the container one when it has no record:
    its show and destroy say so)."""
    directory = cluster_dir(name, state_root)
    kind = load_record(directory).provisioner if (directory / "cluster.json").exists() else ""
    return provisioner_for(kind, progress, state_root)


def _quiet(event: Progress) -> None:
    """Progress nobody asked to see."""


def vm_image(directory: Path) -> VMImage:
    """The VM image in an ``image build`` output directory; UsageError naming what is missing."""
    from kiln.image import build, manifest  # the image builder only when an image is named

    manifest_path = directory / manifest.MANIFEST
    missing = [
        name
        for name in (build.KERNEL, build.INITRAMFS, build.ROOTFS, manifest.MANIFEST)
        if not (directory / name).is_file()
    ]
    if missing:
        raise click.UsageError(
            f"--image {directory}: not an image build output (missing {', '.join(missing)})"
        )
    try:
        described = json.loads(manifest_path.read_text())
        cmdline = str(described["cmdline"])
    except (ValueError, KeyError, TypeError) as exc:
        raise click.UsageError(
            f"--image {directory}: unreadable {manifest_path.name}: {exc}"
        ) from None
    iso = directory / build.ISO
    return VMImage(
        kernel=(directory / build.KERNEL).absolute(),
        initramfs=(directory / build.INITRAMFS).absolute(),
        root=(directory / build.ROOTFS).absolute(),
        cmdline=cmdline,
        version=str(described.get("version", "")),
        iso=iso.absolute() if iso.is_file() else None,
    )
