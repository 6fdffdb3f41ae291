"""``kilnctl image``: refresh the package lock, build an image, verify a built image.

Building needs root only for nothing: it runs apt-get download, dpkg-deb, uv, mksquashfs and
zstd as the current user, with its cache in ``~/.cache/kiln/image``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console

from kiln.image import apt, build, lock, manifest
from kiln.image.profile import Profile


class RichSteps:
    """Each build step as a spinner while it runs, then ✓ with its duration."""

    def __init__(self) -> None:
        self.console = Console(stderr=True, highlight=False)

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        start = time.monotonic()
        with self.console.status(title):
            try:
                yield
            except BaseException:
                self.console.print(f"[red]✗[/] {title}")
                raise
        self.console.print(f"[green]✓[/] {title} [dim]({time.monotonic() - start:.1f}s)[/]")


@click.group()
def image() -> None:
    """Build and verify Kiln OS images."""


_LOCK_OPTION = click.option(
    "--lock",
    "lock_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=lock.DEFAULT_LOCK,
    show_default=True,
    help="The package lock.",
)


@image.command("lock")
@_LOCK_OPTION
def lock_command(lock_path: Path) -> None:
    """Resolve the lock's root packages again against apt's current index and rewrite it."""
    current = lock.load_lock(lock_path)
    with RichSteps().step(f"Resolving {len(current.roots)} root packages with apt"):
        fresh = asyncio.run(apt.relock(current))
    lock_path.write_text(fresh.to_toml())
    before = {p.name: p.version for p in current.packages}
    for package in fresh.packages:
        if before.get(package.name) != package.version:
            old = before.get(package.name, "new")
            click.echo(f"{package.name}: {old} -> {package.version}", err=True)
    click.echo(f"wrote {lock_path} ({len(fresh.packages)} packages)", err=True)


@image.command("build")
@click.option(
    "--profile",
    type=click.Choice([p.value for p in Profile]),
    default=Profile.VM.value,
    show_default=True,
    help="What the image boots on (the drivers its initramfs loads).",
)
@click.option(
    "--kernel-arg", "kernel_args", multiple=True, metavar="ARG", help="Extra kernel argument."
)
@click.option(
    "--signing-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Ed25519 key to sign the manifest with (kilnctl gen image-key).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for vmlinuz, initramfs, rootfs.squashfs and manifest.json.",
)
@click.option("--no-cache", is_flag=True, help="Build every artifact again.")
@click.option(
    "--label",
    default="",
    help="Appended to the version (0.1.0+LABEL): builds of the same sources that differ.",
)
@click.option("--break-boot", is_flag=True, hidden=True)  # tests: an image failing at boot
@click.option("--break-health", is_flag=True, hidden=True)  # tests: one never running
@_LOCK_OPTION
def build_command(
    profile: str,
    kernel_args: tuple[str, ...],
    signing_key: Path | None,
    output: Path,
    no_cache: bool,
    label: str,
    break_boot: bool,
    break_health: bool,
    lock_path: Path,
) -> None:
    """Build a Kiln OS image from the locked packages and this source tree."""
    options = build.BuildOptions(
        output=output,
        profile=Profile(profile),
        kernel_args=kernel_args,
        signing_key=signing_key,
        lock_path=lock_path,
        use_cache=not no_cache,
        label=label,
        break_boot=break_boot,
        break_health=break_health,
    )
    result = asyncio.run(build.build(options, RichSteps()))
    artifacts = result.manifest["artifacts"]
    total = sum(artifacts[name]["size"] for name in build.ARTIFACTS)
    for name, artifact in artifacts.items():
        click.echo(f"{name:16} {artifact['size'] / 1e6:7.1f} MB  sha256:{artifact['sha256']}")
    click.echo(f"kernel + initramfs + root: {total / 1e6:.1f} MB", err=True)
    if signing_key is None:
        click.echo("warning: the image is not signed (--signing-key)", err=True)
    if result.cached:
        click.echo("(artifacts reused from the cache: same inputs)", err=True)


@image.command("verify")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--public-key",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The image signing key's public half.",
)
def verify_command(directory: Path, public_key: Path) -> None:
    """Check an image's signature and the SHA-256 of every artifact; exit 1 if one fails."""
    data = manifest.verify(directory, manifest.load_public_key(public_key))
    click.echo(
        f"ok: Kiln OS {data['version']} ({data['profile']}), {len(data['artifacts'])} artifacts"
    )


@click.command("image-key")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Directory for image-signing.key (private, 0600) and image-signing.pub.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing key.")
def image_key(output: Path, force: bool) -> None:
    """Generate an Ed25519 key pair for signing images."""
    existing = output / manifest.PRIVATE_KEY_FILE
    if existing.exists() and not force:
        raise click.ClickException(f"{existing} exists (use --force to replace it)")
    private, public = manifest.generate_key(output)
    click.echo(f"wrote {private} and {public}", err=True)
