"""Running the node as PID 1: kernel filesystems, orphan reaping, DHCP and the status screen
around :meth:`Node.run`, then a real power-off or reboot. SIGTERM, SIGINT and Ctrl-Alt-Del
(which the kernel turns into SIGINT for PID 1) shut the node down gracefully and power off.
PID 1 never exits: a failure is logged and the machine reboots after :data:`FAILURE_PAUSE`.

It imports little (not the node): :func:`prepare` and :func:`start_network` run before the
early API starts, while the node itself still loads."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from kiln.machined.errors import UnsupportedError
from kiln.machined.events import EventType
from kiln.machined.platform import host
from kiln.machined.platform.metal import console, dhcp, kmod, netif, pid1
from kiln.machined.statefiles import MAINTENANCE_DIR

if TYPE_CHECKING:
    from kiln.machined.node import Node

logger = logging.getLogger(__name__)

FAILURE_PAUSE = 10.0


def prepare() -> None:
    """What must be in place before the node is made: the kernel filesystems, the drivers of
    the hardware present (NICs, on a metal image: before DHCP and the hostname, which is made
    from the first interface's MAC), a hostname.

    Metal mode takes the machine over (mounts, DHCP on every interface, power): anywhere but
    as PID 1 it is refused, so that a mistyped ``--mode`` cannot reconfigure a workstation."""
    if os.getpid() != 1:
        raise UnsupportedError(
            "metal mode runs only as PID 1 of a Kiln OS machine (use --mode container here)"
        )
    pid1.mount_kernel_filesystems()
    pid1.disable_ctrl_alt_del()
    try:
        kmod.coldplug()
    except OSError as exc:  # a node without its NIC drivers still shows why on the console
        logger.error("coldplug failed: %s", exc)
    if socket.gethostname() in ("", "(none)", "localhost"):
        socket.sethostname(default_hostname(netif.ethernet_interfaces()))


def default_hostname(interfaces: list[str], sys_root: Path = Path("/sys")) -> str:
    """``kiln-`` and the last three bytes of the first interface's MAC (``kiln-123456``)."""
    for name in interfaces:
        try:
            mac = (sys_root / "class" / "net" / name / "address").read_text().strip()
        except OSError:
            continue
        return "kiln-" + mac.replace(":", "")[-6:]
    return "kiln"


def status(node: Node) -> console.Status:
    stages = [e.message for e in node.events.recent() if e.type is EventType.STAGE]
    stage = stages[-1].removeprefix("stage ") if stages else "booting"
    crt = node.options.state_dir / MAINTENANCE_DIR / "tls.crt"
    try:
        fingerprint = console.fingerprint(crt.read_bytes())
    except (OSError, ValueError):
        fingerprint = "(not made yet)"
    return console.Status(stage, tuple(host.local_addresses()), node.options.api_port, fingerprint)


async def _network() -> None:
    await asyncio.to_thread(netif.link_up, "lo")
    interfaces = netif.ethernet_interfaces()
    if not interfaces:
        logger.warning("no Ethernet interface: the API is reachable on no network")
        return
    async with asyncio.TaskGroup() as group:
        for name in interfaces:
            group.create_task(dhcp.keep_configured(name), name=f"dhcp {name}")


def start_network() -> asyncio.Task[None]:
    """DHCP on every Ethernet interface, started as early as possible: a client can reach the
    early API only once the machine has an address."""
    return asyncio.create_task(_network(), name="network")


async def run(node: Node, network: asyncio.Task[None] | None = None) -> None:
    """Run ``node`` as PID 1 until it shuts down or reboots, then power off or reboot;
    ``network`` is the task of :func:`start_network` if it was started already."""
    from kiln.machined.node.env import Action

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, node.request_shutdown)
    reaper = pid1.Reaper()
    helpers = [
        asyncio.create_task(reaper.run(), name="reaper"),
        network or start_network(),
        asyncio.create_task(console.show(lambda: status(node)), name="console"),
    ]
    gc.freeze()
    reboot = False
    try:
        await node.run()
        reboot = node.last_action is Action.REBOOT
    except Exception:  # noqa: BLE001 - PID 1 must not exit: report, then reboot
        logger.error("the node failed:\n%s", traceback.format_exc())
        await asyncio.sleep(FAILURE_PAUSE)
        reboot = True
    finally:
        for task in helpers:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*helpers, return_exceptions=True)
    logger.info("%s", "rebooting" if reboot else "powering off")
    pid1.power(reboot=reboot)
