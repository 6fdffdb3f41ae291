"""Kiln OS image figures: compressed size of kernel + initramfs + root, and boot time under
QEMU against the same kernel booting a trivial init.

Run with ``.venv/bin/python benchmarks/image_bench.py [RUNS]`` (about 3 minutes with a cached
image, plus the build otherwise). It builds the image (``kilnctl image build``'s code, cached
by its inputs) and, in the same run, a reference initramfs whose ``/init`` is a 200-byte static
x86-64 program written here (it prints a marker on the console and powers the VM off). Both
boot the same kernel with the same arguments, one after the other, ``RUNS`` times each (3 by
default); the medians are printed as a Markdown table. ``--baseline DIR`` (repeatable) boots
other built images (``kilnctl image build -o DIR`` of an earlier version, or a variant) in the
same rounds, so that a change is compared under the same load; the table then has a column
for each, named after its directory. ``--profile metal`` builds the metal image (Debian's
generic kernel); a metal-profile image boots with what the cloud kernel cannot drive, an
Intel e1000e NIC and its root on NVMe, the others with virtio.

- trivial init: QEMU start until the marker appears on the serial console;
- Kiln: QEMU start until the node's API answers TLS on the forwarded port 50000 (the same
  check ``kiln.machined.testing.api_answers`` makes), with the times of ``kiln-init: started``
  (the initramfs's init running) and ``API listening`` on the console beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import stat
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from kiln import process, qemu
from kiln.image import build, cpio
from kiln.image.initramfs import ZSTD_LEVEL
from kiln.image.profile import Profile
from kiln.machined.testing import api_answers, free_port

MARKER = "KILN-TRIVIAL-INIT-REACHED"
TALOS_MB = 80  # Talos's published figure for its image (kernel + initramfs + root)
HOST = os.environ.get("KILN_BENCH_HOST", "127.99.200.1")  # where the VM's API is forwarded


def trivial_init(message: bytes) -> bytes:
    """A static ELF: write(1, message), reboot(POWER_OFF), then spin."""
    base, header_size = 0x400000, 64 + 56
    code_head = (
        b"\xb8\x01\x00\x00\x00"  # mov eax, 1 (write)
        b"\xbf\x01\x00\x00\x00"  # mov edi, 1
        b"\x48\x8d\x35"  # lea rsi, [rip + message]
    )
    code_tail = (
        b"\xba"
        + struct.pack("<I", len(message))  # mov edx, len
        + b"\x0f\x05"  # syscall
        + b"\xb8\xa9\x00\x00\x00"  # mov eax, 169 (reboot)
        + b"\xbf\xad\xde\xe1\xfe"  # mov edi, LINUX_REBOOT_MAGIC1
        + b"\xbe\x69\x19\x12\x28"  # mov esi, LINUX_REBOOT_MAGIC2
        + b"\xba\xdc\xfe\x21\x43"  # mov edx, LINUX_REBOOT_CMD_POWER_OFF
        + b"\x0f\x05"  # syscall
        + b"\xeb\xfe"  # jmp $
    )
    code = code_head + struct.pack("<i", len(code_tail)) + code_tail + message
    size = header_size + len(code)
    elf_header = (
        b"\x7fELF\x02\x01\x01"
        + b"\0" * 9
        + struct.pack(
            "<HHIQQQIHHHHHH", 2, 0x3E, 1, base + header_size, 64, 0, 0, 64, 56, 1, 0, 0, 0
        )
    )
    program_header = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    return elf_header + program_header + code


async def trivial_initramfs(directory: Path) -> Path:
    tree = directory / "trivial"
    tree.mkdir()
    init = tree / "init"
    init.write_bytes(trivial_init(f"\n{MARKER}\n".encode()))
    init.chmod(0o755)
    (tree / "dev").mkdir()
    console = cpio.Device("dev/console", stat.S_IFCHR | 0o600, 5, 1)
    data = cpio.archive(tree, (console,))
    done = await process.run(["zstd", "-q", f"-{ZSTD_LEVEL}", "-c"], input=data, timeout=60)
    output = directory / "trivial.initramfs"
    output.write_bytes(done.stdout)
    return output


async def boot_trivial(image: Path, initramfs: Path, cmdline: str, log: Path) -> float:
    spec = qemu.VMSpec(image / build.KERNEL, initramfs, image / build.ROOTFS, cmdline, log)
    vm = await qemu.VM.start(spec)
    try:
        return await vm.wait_for_console(MARKER, 300)
    finally:
        await vm.stop()


async def boot_kiln(image: Path, cmdline: str, log: Path) -> tuple[float, float, float, float]:
    port = free_port(HOST)
    metal = json.loads((image / "manifest.json").read_text()).get("profile") == "metal"
    spec = qemu.VMSpec(
        image / build.KERNEL,
        image / build.INITRAMFS,
        image / build.ROOTFS,
        cmdline,
        log,
        forwards={f"{HOST}:{port}": 50000},
        nic_model="e1000e" if metal else "virtio-net-pci",
        root_bus=qemu.RootBus.NVME if metal else qemu.RootBus.VIRTIO,
    )
    vm = await qemu.VM.start(spec)
    try:
        init = await vm.wait_for_console("kiln-init: started", 300)
        machined = await vm.wait_for_console("kiln-init: starting kiln-machined", 300)
        listening = await vm.wait_for_console("API listening", 300)
        for _ in range(6000):  # 5 minutes
            if await api_answers(HOST, port):
                break
            await asyncio.sleep(0.05)
        return init, machined, listening, time.monotonic() - vm.started
    finally:
        await vm.stop()


@dataclass
class Timings:
    init: list[float] = field(default_factory=list)
    machined: list[float] = field(default_factory=list)
    listening: list[float] = field(default_factory=list)
    ready: list[float] = field(default_factory=list)


def artifact_sizes(image: Path) -> dict[str, float]:
    """MB of each artifact, from the image's manifest."""
    data = json.loads((image / "manifest.json").read_text())
    return {name: a["size"] / 1e6 for name, a in data["artifacts"].items()}


async def main(
    runs: int,
    baselines: list[Path],
    signing_key: Path | None,
    logs: Path | None,
    profile: Profile = Profile.VM,
) -> None:
    with tempfile.TemporaryDirectory(prefix="kiln-image-bench-") as tmp:
        work = Path(tmp)
        logs = logs or work
        logs.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        options = build.BuildOptions(
            output=work / "image", signing_key=signing_key, profile=profile
        )
        result = await build.build(options)
        build_seconds = time.monotonic() - started
        image, cmdline = result.output, str(result.manifest["cmdline"])
        images = {"this build": image} | {d.name: d for d in baselines}
        initramfs = await trivial_initramfs(work)
        accel = await asyncio.to_thread(qemu.accelerator)
        trivial: list[float] = []
        timings = {name: Timings() for name in images}
        for run in range(runs):
            trivial.append(await boot_trivial(image, initramfs, cmdline, logs / f"t{run}.log"))
            line = f"run {run + 1}: trivial {trivial[-1]:.1f}s"
            for name, directory in images.items():
                log = logs / f"k{run}-{name.replace(' ', '-')}.log"
                init, machined, listening, ready = await boot_kiln(directory, cmdline, log)
                timings[name].init.append(init)
                timings[name].machined.append(machined)
                timings[name].listening.append(listening)
                timings[name].ready.append(ready)
                line += f", {name} API {ready:.1f}s"
            print(f"{line}; load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
        sizes = {name: artifact_sizes(d) for name, d in images.items()}
    how = "cached" if result.cached else "from the package cache"
    print(f"build: {build_seconds:.0f}s ({how}); accelerator: {accel}; ", end="")
    print(f"load average at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}\n")
    _table(runs, sizes, trivial, timings)


def _table(
    runs: int, sizes: dict[str, dict[str, float]], trivial: list[float], timings: dict[str, Timings]
) -> None:
    med = statistics.median
    names = list(sizes)
    print("| Measure | " + " | ".join(reversed(names)) + " |")
    print("|---|" + "---:|" * len(names))

    def row(label: str, cells: dict[str, str]) -> None:
        print(f"| {label} | " + " | ".join(cells[n] for n in reversed(names)) + " |")

    for artifact in build.ARTIFACTS:
        row(f"{artifact} (compressed)", {n: f"{sizes[n][artifact]:.1f} MB" for n in names})
    totals = {n: sum(sizes[n][a] for a in build.ARTIFACTS) for n in names}  # not disk.raw
    row(
        f"**kernel + initramfs + root** (Talos: ~{TALOS_MB} MB)",
        {n: f"**{totals[n]:.1f} MB**" for n in names},
    )
    row(
        f"trivial init: QEMU start → marker (median of {runs})",
        dict.fromkeys(names, f"{med(trivial):.1f} s"),
    )
    steps = (
        ("Kiln: QEMU start → initramfs init running", "init", "{:.1f} s"),
        ("Kiln: QEMU start → root mounted, kiln-machined started", "machined", "{:.1f} s"),
        ("Kiln: QEMU start → API listening (console)", "listening", "{:.1f} s"),
        ("**Kiln: QEMU start → API answers TLS**", "ready", "**{:.1f} s**"),
    )
    for label, attribute, form in steps:
        row(label, {n: form.format(med(getattr(t, attribute))) for n, t in timings.items()})
    row(
        "ratio API-ready / trivial init (target ≤ 2x)",
        {n: f"{med(t.ready) / med(trivial):.2f}x" for n, t in timings.items()},
    )


def arguments() -> argparse.Namespace:
    parse = argparse.ArgumentParser(description="Kiln OS image size and boot time under QEMU.")
    parse.add_argument("runs", nargs="?", type=int, default=3, help="boots of each (default 3)")
    parse.add_argument(
        "--baseline",
        type=Path,
        action="append",
        default=[],
        help="another build's directory to boot in the same rounds (repeatable)",
    )
    parse.add_argument("--logs", type=Path, help="keep the VMs' console logs in this directory")
    parse.add_argument(
        "--signing-key", type=Path, help="sign the build (the e2e tests' key shares their cache)"
    )
    parse.add_argument(
        "--profile", type=Profile, default=Profile.VM, help="the profile to build (vm, metal)"
    )
    return parse.parse_args()


if __name__ == "__main__":
    args = arguments()
    asyncio.run(main(args.runs, args.baseline, args.signing_key, args.logs, args.profile))
