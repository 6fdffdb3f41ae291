"""``kilnctl gen``: generate secrets and machine configs locally (no machine is contacted)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from kiln.ctl.errors import CliError
from kiln.ctl.gen_schema import schema
from kiln.ctl.image import image_key
from kiln.ctl.outputs import check_new_files, write_new_files
from kiln.machinery import kilnconfig
from kiln.machinery.config import Patch, apply_patches, parse_patch
from kiln.machinery.config.generate import DEFAULT_INSTALL_DISK, check_endpoint, generate_configs
from kiln.machinery.config.model import DEFAULT_KUBERNETES_VERSION
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle

CONTROLPLANE_FILE = "controlplane.yaml"
WORKER_FILE = "worker.yaml"
KILNCONFIG_FILE = "kilnconfig"

FC = TypeVar("FC", bound=Callable[..., object])

_FORCE = click.option("--force", is_flag=True, help="Overwrite files that already exist.")


@click.group()
def gen() -> None:
    """Generate secrets, machine configs and client configs."""


gen.add_command(schema)
gen.add_command(image_key)


@gen.command("secrets")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("secrets.yaml"),
    show_default=True,
    help="Where to write the secrets bundle.",
)
@_FORCE
def secrets_command(output: Path, force: bool) -> None:
    """Generate a cluster's CAs, keys and tokens into a secrets bundle."""
    bundle = SecretsBundle.generate()
    write_new_files({output: bundle.to_yaml()}, force=force)
    click.echo(f"wrote {output}", err=True)


def _patch_option(flag: str, target: str) -> Callable[[FC], FC]:
    return click.option(
        flag,
        multiple=True,
        metavar="@FILE|YAML",
        help=f"Patch {target} (@file or inline YAML/JSON); repeat to apply several, in order.",
    )


@gen.command("config")
@click.argument("name")
@click.argument("endpoint")
@click.option(
    "--with-secrets",
    "secrets_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Use this secrets bundle (from 'gen secrets') instead of generating new secrets.",
)
@_patch_option("--config-patch", "both configs")
@_patch_option("--config-patch-control-plane", "the controlplane config")
@_patch_option("--config-patch-worker", "the worker config")
@click.option("--kubernetes-version", help=f"[default: {DEFAULT_KUBERNETES_VERSION}]")
@click.option("--install-disk", default=DEFAULT_INSTALL_DISK, show_default=True)
@click.option("--install-image", help="OS image to install.")
@click.option(
    "-o",
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Directory for controlplane.yaml, worker.yaml and kilnconfig.",
)
@_FORCE
def config_command(
    name: str,
    endpoint: str,
    secrets_file: Path | None,
    config_patch: tuple[str, ...],
    config_patch_control_plane: tuple[str, ...],
    config_patch_worker: tuple[str, ...],
    kubernetes_version: str | None,
    install_disk: str,
    install_image: str | None,
    output_dir: Path,
    force: bool,
) -> None:
    """Generate the machine configs of cluster NAME and a kilnconfig to manage it.

    ENDPOINT is the Kubernetes API URL, e.g. https://10.5.0.2:6443. Patches given with
    --config-patch apply first, then those for the machine type.
    """
    try:
        host = check_endpoint(endpoint)
    except ValueError as exc:
        raise CliError(f"ENDPOINT: {exc}") from None
    targets = [output_dir / file for file in (CONTROLPLANE_FILE, WORKER_FILE, KILNCONFIG_FILE)]
    check_new_files(targets, force=force)
    both = _patches("--config-patch", config_patch)
    controlplane_patches = both + _patches(
        "--config-patch-control-plane", config_patch_control_plane
    )
    worker_patches = both + _patches("--config-patch-worker", config_patch_worker)
    bundle = SecretsBundle.load(secrets_file) if secrets_file else SecretsBundle.generate()
    configs = generate_configs(
        name,
        endpoint,
        bundle,
        kubernetes_version=kubernetes_version,
        install_disk=install_disk,
        install_image=install_image,
    )
    controlplane = apply_patches(configs.controlplane, controlplane_patches)
    worker = apply_patches(configs.worker, worker_patches)
    context = kilnconfig.issue_context(bundle.os_ca, Role.ADMIN, endpoints=[host])
    client_config = kilnconfig.Kilnconfig().add(name, context)
    contents = [controlplane.to_yaml(), worker.to_yaml(), kilnconfig.dump(client_config)]
    write_new_files(dict(zip(targets, contents, strict=True)), force=force)
    for target in targets:
        click.echo(f"wrote {target}", err=True)


def _patches(flag: str, arguments: tuple[str, ...]) -> list[Patch]:
    return [
        parse_patch(argument, source=None if argument.startswith("@") else f"{flag} {number}")
        for number, argument in enumerate(arguments, start=1)
    ]
