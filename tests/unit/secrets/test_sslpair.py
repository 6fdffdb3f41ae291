"""A certificate and key held in memory serve TLS through the standard library, and leave no
key file behind; a key that is not the certificate's is refused."""

from __future__ import annotations

import asyncio
import ssl
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from kiln.machinery.secrets import KeyAlgorithm, KeyPair
from kiln.machinery.secrets.selfsigned import self_signed_server
from kiln.machinery.sslpair import load_pair


def server_context(certificate: bytes, key: bytes) -> ssl.SSLContext:
    """A server context with the pair loaded, checking that no key file is left."""
    before = set(Path(tempfile.gettempdir()).glob("kiln-tls-*"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    load_pair(context, certificate, key)
    assert set(Path(tempfile.gettempdir()).glob("kiln-tls-*")) == before
    return context


async def test_a_pair_in_memory_serves_a_handshake_and_leaves_no_file() -> None:
    issued = self_signed_server("hub.kiln", timedelta(days=1), dns_names=["hub.kiln"])
    server_side = server_context(issued.certificate.pem, issued.key.pem)

    async def greet(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello")
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0, ssl=server_side)
    port = server.sockets[0].getsockname()[1]
    client_side = ssl.create_default_context(cadata=issued.certificate.pem.decode())
    async with server:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_side, server_hostname="hub.kiln"
        )
        assert await reader.read() == b"hello"
        writer.close()


def test_a_key_that_is_not_the_certificates_is_refused() -> None:
    issued = self_signed_server("hub.kiln", timedelta(days=1))
    other = KeyPair.generate(KeyAlgorithm.ECDSA_P256)
    with pytest.raises(ssl.SSLError):
        load_pair(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), issued.certificate.pem, other.pem)
