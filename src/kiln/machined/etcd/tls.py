"""The files an etcd client authenticates with, and an SSL context made from them."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EtcdClientTLS:
    """The etcd CA certificate and a client certificate and key signed by it."""

    ca: Path
    cert: Path
    key: Path

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only the etcd CA and presenting the client certificate.
        Reads the files now; raises OSError or ssl.SSLError when they are missing or bad."""
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.cert), str(self.key))
        return context
