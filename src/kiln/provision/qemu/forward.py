"""The port forwarder of a VM cluster: host loopback addresses to the VMs' private ones, and
back.

``python -m kiln.provision.qemu.forward NAMESPACE HOST:PORT=ADDRESS:PORT ...`` listens on each
host address and, for every connection, opens one to the VM's address from inside the
cluster's network namespace (a thread that entered it makes the sockets), then pumps bytes
both ways. ``back:ADDRESS:PORT=HOST:PORT`` is the other way round: it listens inside the
namespace (on the bridge's address, say) and connects to a host address, which is how VMs
reach a hub running on the host. TLS runs end to end through it: it sees only bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

from pyroute2 import netns

from kiln.tasks import until_first_ends

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
CONNECT_TIMEOUT = 10.0


def split(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{text!r}: expected HOST:PORT")
    return host, int(port)


BACK = "back:"

Address = tuple[str, int]


def _listening_socket(address: Address) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def forward(
    namespace: str, routes: dict[Address, Address], back: dict[Address, Address] | None = None
) -> None:
    inside = ThreadPoolExecutor(1, "netns", initializer=netns.setns, initargs=(namespace,))
    loop = asyncio.get_running_loop()

    async def open_inside(target: tuple[str, int]) -> socket.socket:
        sock = await loop.run_in_executor(inside, socket.socket)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await loop.sock_connect(sock, target)
        except BaseException:
            sock.close()
            raise
        return sock

    def serve(target: tuple[str, int]) -> object:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                sock = await open_inside(target)
            except (OSError, TimeoutError) as exc:
                logger.warning("cannot reach %s:%d: %s", *target, exc)
                writer.close()
                return
            inner_reader, inner_writer = await asyncio.open_connection(sock=sock)
            await _pump_both(reader, writer, inner_reader, inner_writer)

        return handle

    def serve_back(target: Address) -> object:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    outer_reader, outer_writer = await asyncio.open_connection(*target)
            except (OSError, TimeoutError) as exc:
                logger.warning("cannot reach %s:%d: %s", *target, exc)
                writer.close()
                return
            await _pump_both(reader, writer, outer_reader, outer_writer)

        return handle

    servers = [
        await asyncio.start_server(serve(target), host, port)  # type: ignore[arg-type]
        for (host, port), target in routes.items()
    ]
    for address, target in (back or {}).items():
        sock = await loop.run_in_executor(inside, _listening_socket, address)
        servers.append(await asyncio.start_server(serve_back(target), sock=sock))  # type: ignore[arg-type]
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    logger.info("forwarding %s", " ".join(f"{h}:{p}" for h, p in routes))
    await stopping.wait()
    for server in servers:
        server.close()
    inside.shutdown(wait=False)


async def _pump_both(
    a_reader: asyncio.StreamReader,
    a_writer: asyncio.StreamWriter,
    b_reader: asyncio.StreamReader,
    b_writer: asyncio.StreamWriter,
) -> None:
    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()

    try:
        await until_first_ends(pump(a_reader, b_writer), pump(b_reader, a_writer))
    finally:
        for writer in (a_writer, b_writer):
            writer.close()


def main(argv: list[str]) -> int:
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(message)s")
    if len(argv) < 2:
        sys.stderr.write("usage: forward NAMESPACE [back:]HOST:PORT=ADDRESS:PORT ...\n")
        return 2
    try:
        routes, back = parse_routes(argv[1:])
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    asyncio.run(forward(argv[0], routes, back))
    return 0


def parse_routes(texts: list[str]) -> tuple[dict[Address, Address], dict[Address, Address]]:
    """The routes out of the namespace's VMs to the host and back (``back:``) of ``texts``;
    ValueError naming a malformed one."""
    routes: dict[Address, Address] = {}
    back: dict[Address, Address] = {}
    for text in texts:
        listen, equals, target = text.removeprefix(BACK).partition("=")
        if not equals:
            raise ValueError(f"{text!r}: expected [back:]HOST:PORT=ADDRESS:PORT")
        (back if text.startswith(BACK) else routes)[split(listen)] = split(target)
    return routes, back


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
