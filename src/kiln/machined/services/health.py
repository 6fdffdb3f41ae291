"""Health checks of running services.

A :class:`HealthCheck` runs ``check()`` every ``interval`` seconds, starting ``initial_delay``
after the process started; a check that takes longer than ``timeout`` counts as unhealthy.
A service with a health check is ready for its dependents only once a check has passed.
Ready-made checks: :func:`tcp_port_open`, :func:`http_get_ok`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class HealthResult:
    """The outcome of one check: ``ok`` and a short message (why not, or what was seen)."""

    ok: bool
    message: str = ""


HealthProbe = Callable[[], Awaitable[HealthResult]]


@dataclass(frozen=True)
class HealthCheck:
    """How to tell whether a running service works."""

    check: HealthProbe
    interval: float = 5.0
    timeout: float = 2.0
    initial_delay: float = 0.0

    def __post_init__(self) -> None:
        if self.interval <= 0 or self.timeout <= 0 or self.initial_delay < 0:
            raise ValueError("health check interval and timeout must be > 0, delay >= 0")


def tcp_port_open(
    host: str, port: int, *, interval: float = 5.0, timeout: float = 2.0, initial_delay: float = 0.0
) -> HealthCheck:
    """Healthy while ``host:port`` accepts TCP connections."""

    async def check() -> HealthResult:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            return HealthResult(False, f"{host}:{port}: {exc.strerror or exc}")
        writer.close()
        with contextlib.suppress(OSError):  # a reset on close says nothing about the port
            await writer.wait_closed()
        return HealthResult(True, f"{host}:{port} accepts connections")

    return HealthCheck(check, interval, timeout, initial_delay)


def http_get_ok(
    url: str,
    ssl_context: ssl.SSLContext | None = None,
    *,
    interval: float = 5.0,
    timeout: float = 2.0,
    initial_delay: float = 0.0,
) -> HealthCheck:
    """Healthy while ``GET url`` answers with a 2xx status (HTTP/1.1, or HTTPS with
    ``ssl_context``, e.g. one holding a client certificate)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    tls = parts.scheme == "https"
    context = (ssl_context or ssl.create_default_context()) if tls else None
    host = parts.hostname
    port = parts.port or (443 if tls else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: kiln-health\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii")

    async def check() -> HealthResult:
        try:
            reader, writer = await asyncio.open_connection(host, port, ssl=context)
        except (OSError, ssl.SSLError) as exc:
            return HealthResult(False, f"{url}: {exc}")
        try:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
        except (OSError, ssl.SSLError) as exc:
            return HealthResult(False, f"{url}: {exc}")
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
        fields = status_line.decode("latin-1").split(maxsplit=2)
        if len(fields) < 2 or not fields[1].isdigit():
            return HealthResult(False, f"{url}: not an HTTP answer")
        status = int(fields[1])
        reason = fields[2].strip() if len(fields) > 2 else ""
        return HealthResult(200 <= status < 300, f"{url}: {status} {reason}".rstrip())

    return HealthCheck(check, interval, timeout, initial_delay)
