"""Endpoint and node addresses (kilnconfig, node options): a host, optionally with a port.

Endpoints are stored as the user gave them (``10.5.0.2``, ``cp.example.com:50000``,
``[fd00::2]:50000`` or a bare ``fd00::2``); the client applies the API's default port when
there is none.
"""

from __future__ import annotations

import ipaddress
import re

API_PORT = 50000
"""The machine API port, used when an endpoint names no port."""

_HOSTNAME_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)


def check_host(value: str) -> str:
    """``value`` if it is an IP address or a DNS hostname; ValueError otherwise."""
    if is_ip(value) or _is_hostname(value):
        return value
    raise ValueError(f"{value!r} is not a hostname or IP address")


def check_endpoint(value: str) -> str:
    """``value`` if it is ``host`` or ``host:port``; ValueError otherwise."""
    split_endpoint(value)
    return value


def split_endpoint(value: str, default_port: int = API_PORT) -> tuple[str, int]:
    """The host and port of an endpoint (IPv6 hosts without brackets)."""
    problem = ValueError(
        f"{value!r} is not an endpoint (expected HOST or HOST:PORT, IPv6 as [ADDR]:PORT)"
    )
    if is_ip(value):
        return value, default_port
    if value.startswith("["):
        address, closed, rest = value[1:].partition("]")
        if not closed or not is_ip(address) or ":" not in address:
            raise problem
        if not rest:
            return address, default_port
        if not rest.startswith(":"):
            raise problem
        return address, _port(rest[1:], problem)
    host, colon, port = value.partition(":")
    if not (is_ip(host) or _is_hostname(host)):
        raise problem
    return host, _port(port, problem) if colon else default_port


def _port(text: str, problem: ValueError) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise problem
    return int(text)


def is_ip(value: str) -> bool:
    """Whether ``value`` is an IPv4 or IPv6 address."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_hostname(value: str) -> bool:
    labels = value.split(".")
    return 0 < len(value) <= 253 and all(_HOSTNAME_LABEL.match(label) for label in labels)
