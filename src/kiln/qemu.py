"""Booting a built image in QEMU: kernel + initramfs with the root squashfs as a read-only
virtio disk (or a disk through UEFI), user-mode networking with ports forwarded to host
addresses or a tap device (in a network namespace), the serial console to a log file. KVM
is used only where it really works (probed once), else TCG with :data:`TCG_CPU`
(``KILN_QEMU_CPU`` overrides).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from kiln import process
from kiln.errors import KilnError

QEMU = "qemu-system-x86_64"
#: The CPU emulated without KVM: the baseline x86-64 model, which TCG runs faster than
#: ``max`` (the guest's libraries take their plain code paths, not emulated AVX ones: Kiln's
#: API answered 15 s after QEMU's start instead of 19 s), with RDRAND, which gives the guest
#: entropy at once with ``random.trust_cpu=on``.
TCG_CPU = "qemu64,+rdrand"


class QemuError(KilnError):
    """A VM did not start, or did not reach what it was waited for."""


KVM_PROBE_TIMEOUT = 8.0


def available() -> str | None:
    """Why QEMU cannot run here, or None when it can."""
    if shutil.which(QEMU) is None:
        return f"{QEMU} is not installed (apt-get install qemu-system-x86)"
    return None


@functools.cache
def accelerator() -> str:
    """``kvm`` if a KVM guest really boots here, else ``tcg``; ``KILN_QEMU_ACCEL`` overrides."""
    forced = os.environ.get("KILN_QEMU_ACCEL")
    if forced in ("kvm", "tcg"):
        return forced
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    return "kvm" if asyncio.run(_kvm_boots()) else "tcg"


async def _kvm_boots() -> bool:
    """Run the firmware alone under KVM for a moment: it aborts or hangs where KVM is broken."""
    argv = [QEMU, "-accel", "kvm", "-cpu", "host", "-nodefaults", "-display", "none"]
    argv += ["-serial", "none", "-monitor", "none", "-m", "64", "-no-reboot", "-S"]
    argv += ["-qmp", "stdio"]
    try:
        done = await process.run(
            argv,
            input=b'{"execute":"qmp_capabilities"}\n{"execute":"cont"}\n'
            b'{"execute":"query-status"}\n{"execute":"quit"}\n',
            timeout=KVM_PROBE_TIMEOUT,
            check=False,
        )
    except process.ProcessError:
        return False
    return done.returncode == 0 and b'"running"' in done.stdout


OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")


class RootBus(StrEnum):
    """The controller the root squashfs is attached to: virtio, or one a real machine has."""

    VIRTIO = "virtio"
    NVME = "nvme"
    AHCI = "ahci"

    def attach(self, image: Path) -> list[str]:
        """QEMU's arguments for ``image`` as a read-only disk on this bus (AHCI disks cannot
        be read-only in QEMU: the guest's writes go to a throw-away overlay instead)."""
        if self is RootBus.VIRTIO:
            return ["-drive", f"file={image},format=raw,if=virtio,readonly=on"]
        if self is RootBus.NVME:
            drive = f"file={image},format=raw,if=none,id=root,readonly=on"
            return ["-drive", drive, "-device", "nvme,drive=root,serial=kiln-root"]
        drive = f"file={image},format=raw,if=none,id=root,snapshot=on"
        return [
            "-drive",
            drive,
            "-device",
            "ahci,id=sata",
            "-device",
            "ide-hd,drive=root,bus=sata.0",
        ]


@dataclass
class VMSpec:
    """A VM booting either ``kernel`` + ``initramfs`` directly (the root squashfs as a
    read-only disk) or, with ``uefi_vars`` (a fresh copy of OVMF's variables per VM), from
    ``disks`` through the firmware."""

    kernel: Path | None
    initramfs: Path | None
    root: Path | None
    cmdline: str
    serial_log: Path
    forwards: dict[str, int] = field(default_factory=dict)  # "HOST:PORT" -> guest port
    memory_mb: int = 1024
    cpus: int = 2
    disks: tuple[Path, ...] = ()
    media: Path | None = None  # a read-only disk after ``disks`` (an ISO image, shareable)
    uefi_vars: Path | None = None
    qmp: Path | None = None  # a QMP control socket (keys, power)
    tap: str | None = None  # a tap device instead of user-mode networking (no forwards)
    mac: str | None = None
    reboot: bool = False  # a guest reboot restarts the VM (else QEMU exits)
    oem_strings: tuple[str, ...] = ()  # SMBIOS type 11 strings the guest's firmware carries
    uuid: str | None = None  # the machine's SMBIOS system UUID (the UUID a node goes by)
    nic_model: str = "virtio-net-pci"  # QEMU's NIC device: e1000e, igb, ... for real drivers
    root_bus: RootBus = RootBus.VIRTIO  # how ``root`` attaches

    def argv(self, accel: str) -> list[str]:
        if self.tap is not None:
            net = f"tap,id=net0,ifname={self.tap},script=no,downscript=no"
        else:
            net = "user,id=net0" + "".join(
                f",hostfwd=tcp:{host}-:{guest}" for host, guest in self.forwards.items()
            )
        nic = f"{self.nic_model},netdev=net0" + (f",mac={self.mac}" if self.mac else "")
        cpu = "host" if accel == "kvm" else os.environ.get("KILN_QEMU_CPU", TCG_CPU)
        argv = [QEMU, "-accel", accel, "-cpu", cpu]
        if self.uuid is not None:
            argv += ["-uuid", self.uuid]
        argv += ["-m", str(self.memory_mb), "-smp", str(self.cpus), "-nodefaults"]
        argv += ["-display", "none", "-monitor", "none"]
        if not self.reboot:
            argv.append("-no-reboot")
        argv += ["-serial", f"file:{self.serial_log}"]
        if self.uefi_vars is not None:
            argv += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}"]
            argv += ["-drive", f"if=pflash,format=raw,file={self.uefi_vars}"]
        if self.kernel is not None and self.initramfs is not None:
            argv += ["-kernel", str(self.kernel), "-initrd", str(self.initramfs)]
            argv += ["-append", self.cmdline]
        if self.root is not None:
            argv += self.root_bus.attach(self.root)
        for disk in self.disks:
            argv += ["-drive", f"file={disk},format=raw,if=virtio"]
        if self.media is not None:
            argv += ["-drive", f"file={self.media},format=raw,if=virtio,readonly=on"]
        argv += ["-netdev", net, "-device", nic]
        if self.oem_strings:  # QEMU's option syntax: a comma in a value is written twice
            values = "".join(f",value={s.replace(',', ',,')}" for s in self.oem_strings)
            argv += ["-smbios", f"type=11{values}"]
        if self.qmp is not None:
            argv += ["-qmp", f"unix:{self.qmp},server=on,wait=off"]
        return argv


class VM:
    """A running QEMU guest; :meth:`stop` ends it."""

    def __init__(self, spec: VMSpec, child: process.Child, started: float) -> None:
        self.spec = spec
        self.child = child
        self.started = started

    @classmethod
    async def start(cls, spec: VMSpec, accel: str = "") -> VM:
        argv = spec.argv(accel or await asyncio.to_thread(accelerator))
        spec.serial_log.write_bytes(b"")
        started = time.monotonic()
        child = await process.spawn(argv, capture_output=False)
        return cls(spec, child, started)

    def console(self) -> str:
        return self.spec.serial_log.read_text(errors="replace")

    async def wait_for_console(self, marker: str, within: float) -> float:
        """Seconds from the start of QEMU until ``marker`` appears on the serial console."""
        deadline = time.monotonic() + within
        while marker not in self.console():
            if self.child.returncode is not None:
                raise QemuError(f"QEMU exited before {marker!r} appeared: {self._tail()}")
            if time.monotonic() > deadline:
                raise QemuError(f"{marker!r} did not appear within {within:g}s: {self._tail()}")
            await asyncio.sleep(0.05)
        return time.monotonic() - self.started

    async def wait_exit(self, within: float) -> int:
        async with asyncio.timeout(within):
            return await self.child.wait()

    async def send_keys(self, *keys: str) -> None:
        """Press ``keys`` together (QEMU key codes: ``ctrl``, ``alt``, ``delete``) over QMP."""
        if self.spec.qmp is None:
            raise QemuError("the VM was started without a QMP socket")
        reader, writer = await asyncio.open_unix_connection(str(self.spec.qmp))
        try:
            await reader.readline()  # the greeting
            for command in (
                {"execute": "qmp_capabilities"},
                {
                    "execute": "send-key",
                    "arguments": {"keys": [{"type": "qcode", "data": k} for k in keys]},
                },
            ):
                writer.write(json.dumps(command).encode() + b"\n")
                await writer.drain()
                answer = json.loads(await reader.readline())
                while "event" in answer:  # events may come before the answer
                    answer = json.loads(await reader.readline())
                if "error" in answer:
                    raise QemuError(f"QMP {command['execute']}: {answer['error']}")
        finally:
            writer.close()

    def _tail(self) -> str:
        lines = self.console().strip().splitlines()
        return " | ".join(lines[-8:]) or "(nothing on the console)"

    async def stop(self) -> None:
        if self.child.returncode is None:
            await process.terminate(self.child, grace=5.0)
