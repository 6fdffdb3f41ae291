"""Load a certificate and its key held in memory into an :class:`ssl.SSLContext`, which reads
key pairs from files only: through a private file in a directory removed at once."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path


def load_pair(context: ssl.SSLContext, certificate: bytes, key: bytes) -> None:
    """Present ``certificate`` (PEM, with any chain after it) with ``key`` (PEM)."""
    with tempfile.TemporaryDirectory(prefix="kiln-tls-") as work:
        pair = Path(work) / "pair.pem"
        pair.touch(mode=0o600)
        pair.write_bytes(certificate.rstrip(b"\n") + b"\n" + key)
        context.load_cert_chain(str(pair))
