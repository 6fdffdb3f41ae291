"""The console's status screen: what the machine is and how to reach it, instead of a login
prompt. Printed at start and again whenever something on it changes."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from kiln import __version__

CONSOLE = Path("/dev/console")
REFRESH = 2.0


@dataclass(frozen=True)
class Status:
    stage: str
    addresses: tuple[str, ...]
    api_port: int
    fingerprint: str


def fingerprint(certificate_pem: bytes) -> str:
    """SHA-256 of a certificate's DER form, colon-separated hex (as ``openssl x509`` prints)."""
    der = x509.load_pem_x509_certificate(certificate_pem).public_bytes(Encoding.DER)
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def render(status: Status) -> str:
    addresses = ", ".join(status.addresses) or "none yet (waiting for DHCP)"
    api = ", ".join(
        f"[{a}]:{status.api_port}" if ":" in a else f"{a}:{status.api_port}"
        for a in status.addresses
    )
    api = api or f"port {status.api_port}"
    lines = [
        "",
        "=" * 72,
        f"  Kiln OS {__version__}",
        f"  stage:        {status.stage}",
        f"  addresses:    {addresses}",
        f"  API:          {api}",
        f"  API cert:     SHA-256 {status.fingerprint}",
        "  This machine has no shell and no login; manage it with kilnctl.",
        "=" * 72,
        "",
    ]
    return "\n".join(lines)


async def show(read: Callable[[], Status], console: Path = CONSOLE) -> None:
    """Print the status screen on ``console`` whenever :func:`read` gives something new."""
    shown: Status | None = None
    while True:
        status = read()
        if status != shown:
            try:
                with console.open("w") as out:
                    out.write(render(status))
            except OSError:
                pass
            shown = status
        await asyncio.sleep(REFRESH)
