"""Install, A/B upgrades, automatic and manual rollback (a build failing at boot, one never
becoming healthy), and reset, on one VM.

The VM first boots the image's kernel and initramfs given to QEMU directly (as a network boot
hands them over), with the ISO attached as its first disk (its KILN-ROOT partition is the root,
its EFI partition holds the kernel and initramfs an install writes) and a blank second disk; a
config naming that disk installs Kiln OS to it, and the
machine then boots from it through OVMF and systemd-boot, one QEMU process from there on
(guest reboots restart it). Builds of the same sources with other version labels (and ones
built to fail at boot or never to become healthy) come from the same cached artifacts.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from image_vm import BuiltImage, image_variant, uefi_disk_vm, wait_for_api

from kiln import process, qemu
from kiln.image import build, iso
from kiln.machined.testing import free_port
from kiln.machinery.osimage import layout

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

KILNCTL = str(Path(sys.executable).with_name("kilnctl"))
BOOT_WAIT = 300.0
TARGET = "/dev/vdb"
HEALTH_DEADLINE = 20  # seconds from the kernel's start: the shortest the config allows is 10


def _address() -> tuple[str, int]:
    host = f"127.94.{time.monotonic_ns() % 250 + 1}.{time.monotonic_ns() // 7 % 250 + 1}"
    return host, free_port(host)


async def kilnctl(*args: str, check: bool = True) -> process.Completed:
    done = await process.run([KILNCTL, *args], check=False, timeout=1800)
    if check and done.returncode != 0:
        pytest.fail(f"kilnctl {' '.join(args)} failed: {done.stderr.decode()}")
    return done


class Node:
    def __init__(self, kilnconfig: Path, endpoint: str) -> None:
        self.kilnconfig = kilnconfig
        self.endpoint = endpoint

    def args(self) -> list[str]:
        return ["--kilnconfig", str(self.kilnconfig), "-e", self.endpoint, "-n", self.endpoint]

    async def call(self, *args: str, check: bool = True) -> process.Completed:
        return await kilnctl(*self.args(), *args, check=check)

    async def status(self) -> dict[str, Any] | None:
        done = await self.call("get", "machinestatus", "-o", "json", check=False)
        if done.returncode != 0:
            return None
        return dict(json.loads(done.stdout)["spec"])

    async def wait_for(
        self, vm: qemu.VM, what: str, test: Any, within: float = BOOT_WAIT
    ) -> dict[str, Any]:
        """The machine status once ``test(status)`` holds; fails with the console's tail."""
        deadline = time.monotonic() + within
        last = None
        while time.monotonic() < deadline:
            last = await self.status()
            if last is not None and test(last):
                return last
            if vm.child.returncode is not None:
                break
            await asyncio.sleep(2)
        pytest.fail(f"{what}: not within {within:g}s (last status {last}):\n{vm.console()[-4000:]}")

    async def upgrade(
        self, vm: qemu.VM, image: Path, active: str, b_state: str, b_failure: str = ""
    ) -> dict[str, Any]:
        """Upgrade to ``image``; the machine status once the node runs from slot ``active``
        with slot B in ``b_state`` (and ``b_failure``); prints how long that took."""
        started = time.monotonic()
        await self.call("upgrade", "--image", str(image))
        what = f"{image.name}: running from slot {active}, slot B {b_state}"
        status = await self.wait_for(
            vm,
            what,
            lambda s: (
                s["activeSlot"] == active
                and s["stage"] == "running"
                and _slots(s)["B"]["state"] == b_state
                and _slots(s)["B"].get("failure", "") == b_failure
            ),
        )
        print(f"upgrade to {what} (upload to running): {time.monotonic() - started:.1f}s")
        return status


def _documents(text: str) -> list[dict[str, Any]]:
    """The JSON documents ``kilnctl get -o json`` printed one after another."""
    decoder, found, at = json.JSONDecoder(), [], 0
    text = text.strip()
    while at < len(text):
        document, at = decoder.raw_decode(text, at)
        found.append(document)
        while at < len(text) and text[at].isspace():
            at += 1
    return found


def _slots(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["slot"]: s for s in status.get("slots", [])}


async def test_install_upgrade_rollback_and_reset(image: BuiltImage, tmp_path: Path) -> None:
    if not qemu.OVMF_CODE.exists():
        pytest.skip("needs UEFI firmware for QEMU (apt-get install ovmf)")
    second = await image_variant(image, tmp_path, "second")
    broken = await image_variant(image, tmp_path, "broken", break_boot=True)
    unhealthy = await image_variant(image, tmp_path, "unhealthy", break_health=True)
    target = tmp_path / "target.raw"
    with target.open("wb") as f:
        f.truncate((layout.DISK_MIB + 16) * layout.MIB)
    host, port = _address()
    configs = tmp_path / "configs"
    sans = json.dumps({"machine": {"certSANs": [host]}})  # the API through the port forward
    await kilnctl(
        *("gen", "config", "e2e", "https://10.0.2.15:6443", "--install-disk", TARGET),
        *("--config-patch", sans, "-o", str(configs)),
    )
    endpoint = f"{host}:{port}"
    node = Node(configs / "kilnconfig", endpoint)

    # 1. Boot into maintenance mode; a missing disk is refused; install to the blank disk.
    spec = qemu.VMSpec(
        kernel=image.directory / build.KERNEL,
        initramfs=image.directory / build.INITRAMFS,
        root=image.directory / build.ISO,  # read-only, the first disk
        cmdline=f"{image.manifest['cmdline']} kiln.root=PARTLABEL={iso.ROOT_LABEL}",
        serial_log=tmp_path / "install-console.log",
        forwards={endpoint: 50000},
        disks=(target,),
    )
    vm = await qemu.VM.start(spec)
    try:
        await wait_for_api(vm, host, port, BOOT_WAIT)
        wrong = configs / "wrong-disk.yaml"
        wrong.write_text((configs / "controlplane.yaml").read_text().replace(TARGET, "/dev/vdz"))
        refused = await kilnctl(
            "apply-config", "--insecure", "-n", endpoint, "-f", str(wrong), check=False
        )
        assert refused.returncode == 1
        assert "machine.install.disk /dev/vdz: no such disk" in refused.stderr.decode()
        with target.open("rb") as f:
            assert f.read(1 << 20) == bytes(1 << 20)  # nothing written
        started = time.monotonic()
        await kilnctl(
            "apply-config", "--insecure", "-n", endpoint, "-f", str(configs / "controlplane.yaml")
        )
        assert await vm.wait_exit(BOOT_WAIT) == 0  # the node reboots: QEMU exits (-no-reboot)
        install_seconds = time.monotonic() - started
        print(f"\ninstall (apply-config to reboot): {install_seconds:.1f}s")
    finally:
        await vm.stop()

    # 2. Boot the installed disk through UEFI: configured, running, slot A.
    vm = await qemu.VM.start(uefi_disk_vm(target, tmp_path, {endpoint: 50000}, reboot=True))
    try:
        status = await node.wait_for(
            vm, "running from slot A", lambda s: s["stage"] == "running" and s["activeSlot"] == "A"
        )
        print(f"\ninstalled disk: QEMU start to running: {time.monotonic() - vm.started:.1f}s")
        assert _slots(status)["A"]["state"] == "good" and _slots(status)["B"]["state"] == "empty"
        console = vm.console()
        assert "kiln-init: installed:" in console and "kiln.slot=A" in console
        mounts = await node.call("get", "mountstatus", "-o", "json")
        by_point = {d["metadata"]["id"]: d["spec"] for d in _documents(mounts.stdout.decode())}
        assert by_point["/"]["fstype"] == "squashfs" and not by_point["/"]["writable"]
        assert by_point["/"]["options"].split(",")[0] == "ro"
        assert by_point["/var"]["fstype"] == "ext4" and by_point["/var"]["writable"]
        assert by_point[layout.STATE_MOUNT]["fstype"] == "ext4"

        # 3. A tampered image is refused and nothing changes.
        tampered = tmp_path / "tampered"
        shutil.copytree(second, tampered)
        data = (second / build.INITRAMFS).read_bytes()
        (tampered / build.INITRAMFS).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
        done = await node.call("upgrade", "--image", str(tampered), check=False)
        assert done.returncode == 1 and "initramfs has SHA-256" in done.stderr.decode()
        assert _slots(await node.status() or {})["B"]["state"] == "empty"

        # 4. Upgrade to the second build: slot B, running, marked good; the config survived.
        version = json.loads((second / "manifest.json").read_text())["version"]
        status = await node.upgrade(vm, second, "B", "good")
        assert _slots(status)["B"]["version"] == version and _slots(status)["B"]["preferred"]

        # 5. Roll back by hand to slot A.
        started = time.monotonic()
        await node.call("rollback")
        await node.wait_for(
            vm,
            "rolled back to slot A",
            lambda s: s["activeSlot"] == "A" and s["stage"] == "running",
        )

        print(f"rollback (command to running on the other slot): {time.monotonic() - started:.1f}s")

        # 6. A build that fails at boot: tried once on slot B, then the firmware boots A again.
        status = await node.upgrade(vm, broken, "A", "bad", "failed to boot")
        assert "this image was built to fail at boot" in vm.console()
        assert _slots(status)["A"]["preferred"]
        refused = await node.call("rollback", check=False)
        assert refused.returncode == 1 and "slot B failed to boot" in refused.stderr.decode()

        # 7. A build that boots and serves but never reaches running: with a short deadline
        # (applied live), slot B gives up on itself and reboots; the firmware boots A again.
        await _unhealthy_upgrade_falls_back(vm, node, configs, unhealthy, image)

        # 8. Power lost while slot B is written: slot A boots intact; the upgrade run again
        # succeeds.
        vm = await _power_loss_while_writing(vm, node, second, target, tmp_path / "power-loss")
        assert (await node.status() or {})["slots"][0]["version"] == image.manifest["version"]

        # 9. Reset: back to maintenance mode.
        await node.call("reset")
        deadline = time.monotonic() + BOOT_WAIT
        while time.monotonic() < deadline:
            done = await kilnctl("version", "--insecure", "-n", endpoint, check=False)
            if "Maintenance: yes" in done.stdout.decode():
                break
            await asyncio.sleep(2)
        else:
            pytest.fail(f"no maintenance mode after reset:\n{vm.console()[-3000:]}")
    finally:
        await vm.stop()


async def _unhealthy_upgrade_falls_back(
    vm: qemu.VM, node: Node, configs: Path, unhealthy: Path, image: BuiltImage
) -> None:
    short = configs / "short-deadline.yaml"
    deadline = {"machine": {"install": {"upgradeHealthTimeout": f"{HEALTH_DEADLINE}s"}}}
    await kilnctl(
        *("machineconfig", "patch", str(configs / "controlplane.yaml")),
        *("-p", json.dumps(deadline), "-o", str(short)),
    )
    applied = await node.call("apply-config", "-f", str(short))
    assert "applied without a reboot" in applied.stdout.decode()
    reason = f"did not become healthy within {HEALTH_DEADLINE}s"
    status = await node.upgrade(vm, unhealthy, "A", "bad", reason)
    assert _slots(status)["A"]["preferred"]
    assert _slots(status)["A"]["version"] == image.manifest["version"]
    console = vm.console()
    assert "this image was built never to become healthy" in console
    events = (await node.call("events")).stdout.decode()
    assert f"slot B {reason}: rolled back to slot A" in events
    slots = (await node.call("get", "bootslots", "-o", "json")).stdout.decode()
    assert _documents(slots)[0]["spec"]["rolledBack"] is True
    refused = await node.call("rollback", check=False)
    assert refused.returncode == 1 and f"slot B {reason}" in refused.stderr.decode()
    config = (await node.call("get", "machineconfig", "-o", "yaml")).stdout.decode()
    assert f"upgradeHealthTimeout: {HEALTH_DEADLINE}s" in config  # the config survived
    # back to the default deadline: good builds take longer than that to run under TCG
    await node.call("apply-config", "-f", str(configs / "controlplane.yaml"))


async def _power_loss_while_writing(
    vm: qemu.VM, node: Node, image_dir: Path, disk: Path, tmp: Path
) -> qemu.VM:
    """Kill QEMU (-9) once the node says it writes the other slot's root; a new QEMU on the
    same disk (returned: the caller stops it)."""
    marker = "slot B: entry removed, writing its root"
    seen = vm.console().count(marker)
    upgrade = asyncio.create_task(node.call("upgrade", "--image", str(image_dir), check=False))
    deadline = time.monotonic() + BOOT_WAIT
    while vm.console().count(marker) == seen:
        if upgrade.done() or time.monotonic() > deadline:
            pytest.fail(f"the node did not start writing the slot:\n{vm.console()[-3000:]}")
        await asyncio.sleep(0.05)
    os.kill(vm.child.pid, signal.SIGKILL)
    await vm.child.wait()
    assert (await upgrade).returncode != 0  # the client saw the node go away
    await asyncio.to_thread(tmp.mkdir)
    forwards = dict(vm.spec.forwards)
    vm = await qemu.VM.start(uefi_disk_vm(disk, tmp, forwards, reboot=True))
    try:
        version = json.loads((image_dir / "manifest.json").read_text())["version"]
        status = await node.wait_for(
            vm,
            "slot A after power loss",
            lambda s: s["activeSlot"] == "A" and s["stage"] == "running",
        )
        slots = _slots(status)
        assert slots["A"]["state"] == "good" and slots["A"]["preferred"]
        assert slots["B"]["state"] == "empty" and not slots["B"]["preferred"]  # not bootable
        status = await node.upgrade(vm, image_dir, "B", "good")  # run again: it succeeds
        assert _slots(status)["B"]["version"] == version
    except BaseException:
        await vm.stop()
        raise
    return vm
