"""The address a node daemon's API binds, as given on its command line."""

from __future__ import annotations

from kiln.machined.errors import InvalidRequestError
from kiln.machinery.endpoints import API_PORT, split_endpoint

WILDCARDS = ("0.0.0.0", "::", "")


def parse_api_addr(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``HOST``, port 50000); InvalidRequestError if malformed."""
    if text.startswith("0.0.0.0"):  # not a hostname to the endpoint parser, but fine to bind
        _, _, port = text.partition(":")
        return "0.0.0.0", int(port) if port.isdigit() else API_PORT
    try:
        return split_endpoint(text)
    except ValueError as exc:
        raise InvalidRequestError(f"--api-addr: {exc}") from None


def bind_address(host: str, port: int) -> str:
    """``host:port`` for a server to bind, IPv6 in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
