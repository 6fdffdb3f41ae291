"""Health checks: flips, timeouts, and the TCP and HTTP(S) checks against real servers."""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
from pathlib import Path

import pytest

from kiln import process
from kiln.machined.services import (
    HealthCheck,
    HealthResult,
    ServiceSpec,
    ServiceState,
    Supervisor,
    http_get_ok,
    tcp_port_open,
)
from kiln.machined.services.testing import RecordingListener

pytestmark = pytest.mark.integration

S = ServiceState

TCP_SERVER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen()
print("listening", flush=True)
while True:
    server.accept()[0].close()
"""

HTTPS_SERVER = """
import http.server, ssl, sys
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
server = http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_health_flips_between_healthy_and_unhealthy(
    supervisor: Supervisor, listener: RecordingListener, tmp_path: Path
) -> None:
    flag = asyncio.Event()

    async def check() -> HealthResult:
        return HealthResult(flag.is_set(), "flag up" if flag.is_set() else "flag down")

    spec = ServiceSpec("svc", ["sleep", "60"], health=HealthCheck(check, interval=0.02))
    supervisor.load(spec)
    await supervisor.start("svc")
    down = await supervisor.wait_for("svc", S.RUNNING, healthy=False, timeout=5)
    assert (down.message, down.health) == ("unhealthy: flag down", "unhealthy")
    flag.set()
    up = await supervisor.wait_for("svc", S.RUNNING, healthy=True, timeout=5)
    assert up.message == "healthy: flag up"
    flag.clear()
    await supervisor.wait_for("svc", S.RUNNING, healthy=False, timeout=5)
    flips = [e.healthy for e in listener.of("svc") if e.state is S.RUNNING]
    assert flips == [None, False, True, False]  # one event per change, not per check
    stopped = await supervisor.stop("svc")
    assert stopped.healthy is None


async def test_a_slow_check_counts_as_unhealthy(supervisor: Supervisor) -> None:
    async def hangs() -> HealthResult:
        await asyncio.sleep(60)
        return HealthResult(True)

    health = HealthCheck(hangs, interval=0.02, timeout=0.05)
    supervisor.load(ServiceSpec("svc", ["sleep", "60"], health=health))
    await supervisor.start("svc")
    status = await supervisor.wait_for("svc", S.RUNNING, healthy=False, timeout=5)
    assert status.message == "unhealthy: no answer within 0.05s"


async def test_a_check_that_raises_counts_as_unhealthy(supervisor: Supervisor) -> None:
    async def broken() -> HealthResult:
        raise RuntimeError("bug in the check")

    supervisor.load(ServiceSpec("svc", ["sleep", "60"], health=HealthCheck(broken, interval=0.02)))
    await supervisor.start("svc")
    status = await supervisor.wait_for("svc", S.RUNNING, healthy=False, timeout=5)
    assert status.message == "unhealthy: check failed: RuntimeError('bug in the check')"


async def test_tcp_port_open(supervisor: Supervisor) -> None:
    port = free_port()
    check = tcp_port_open("127.0.0.1", port, interval=0.02)
    assert not (await check.check()).ok
    argv = [sys.executable, "-c", TCP_SERVER, str(port)]
    supervisor.load(ServiceSpec("tcp", argv, health=check))
    await supervisor.start("tcp")
    status = await supervisor.wait_for("tcp", S.RUNNING, healthy=True, timeout=5)
    assert status.message == f"healthy: 127.0.0.1:{port} accepts connections"
    await supervisor.stop("tcp")
    refused = await check.check()
    assert not refused.ok
    assert refused.message.startswith(f"127.0.0.1:{port}: ")


async def test_http_get_ok(supervisor: Supervisor, tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "health").write_text("ok")
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    check = http_get_ok(f"http://127.0.0.1:{port}/health", interval=0.02)
    supervisor.load(ServiceSpec("web", argv, cwd=str(tmp_path), health=check))
    await supervisor.start("web")
    status = await supervisor.wait_for("web", S.RUNNING, healthy=True, timeout=5)
    assert status.message == f"healthy: http://127.0.0.1:{port}/health: 200 OK"
    missing = await http_get_ok(f"http://127.0.0.1:{port}/missing?x=1").check()
    assert missing == HealthResult(
        False, f"http://127.0.0.1:{port}/missing?x=1: 404 File not found"
    )


async def test_https_get_ok_with_a_context(supervisor: Supervisor, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    await process.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        timeout=30,
    )  # fmt: skip
    port = free_port()
    argv = [sys.executable, "-c", HTTPS_SERVER, str(port), str(cert), str(key)]
    context = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{port}/"
    supervisor.load(
        ServiceSpec("tls", argv, cwd=str(tmp_path), health=http_get_ok(url, context, interval=0.02))
    )
    await supervisor.start("tls")
    await supervisor.wait_for("tls", S.RUNNING, healthy=True, timeout=5)
    untrusted = await http_get_ok(url).check()  # the default context does not trust it
    assert not untrusted.ok
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.message


def test_http_get_ok_wants_an_http_url() -> None:
    with pytest.raises(ValueError, match="not an http"):
        http_get_ok("ftp://example.com/")
