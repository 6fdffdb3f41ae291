"""Validated scalar types for machine config fields.

Each keeps the user's text as given (so configs round-trip unchanged) and checks it on load.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_HOSTNAME_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE | re.ASCII)
_BOOTSTRAP_TOKEN = re.compile(r"[a-z0-9]{6}\.[a-z0-9]{16}")
_KUBE_VERSION = re.compile(r"v?[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?")
_INTERFACE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,15}")
_SYSCTL_NAME = re.compile(r"[a-z0-9_]+([./][a-z0-9_*-]+)+", re.IGNORECASE | re.ASCII)
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")  # urlsplit would silently drop some of these
_DNS_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def parse_duration(text: str) -> timedelta:
    """Parse a Go-style duration such as ``30s``, ``1h30m`` or ``500ms``."""
    if not text or text == "0":
        if text == "0":
            return timedelta(0)
        raise ValueError("empty duration")
    position = 0
    seconds = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    if position != len(text):
        raise ValueError(f"{text!r} is not a duration (use e.g. 30s, 5m, 1h30m, 500ms)")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is too long a duration") from None


def _duration(value: str) -> str:
    parse_duration(value)
    return value


def _ip_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None
    return value


def _interface_cidr(value: str) -> str:
    if "/" not in value:
        raise ValueError(f"{value!r} is not an address in CIDR form (e.g. 192.168.1.10/24)")
    try:
        ipaddress.ip_interface(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an address in CIDR form (e.g. 192.168.1.10/24)"
        ) from None
    return value


def _network_cidr(value: str) -> str:
    if "/" not in value:
        raise ValueError(f"{value!r} is not a network in CIDR form (e.g. 10.244.0.0/16)")
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid CIDR network: {exc}") from None
    return value


def _url(value: str, schemes: tuple[str, ...]) -> str:
    if _URL_FORBIDDEN.search(value):
        raise ValueError(f"{value!r} is not a valid URL (it contains spaces or control characters)")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid URL: {exc}") from None
    if parts.scheme not in schemes or not parts.hostname:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ValueError(f"{value!r} is not a valid URL (expected {wanted}HOST[:PORT][/PATH])")
    if port == 0:
        raise ValueError(f"{value!r} has port 0")
    return value


def _http_url(value: str) -> str:
    return _url(value, ("http", "https"))


def _https_url(value: str) -> str:
    return _url(value, ("https",))


def _hostname(value: str) -> str:
    labels = value.split(".")
    if len(value) > 253 or not all(_HOSTNAME_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{value!r} is not a valid hostname (RFC 1123)")
    return value


def _dns_domain(value: str) -> str:
    if len(value) > 253 or not _DNS_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid DNS domain")
    return value


def _san(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        _hostname(value.removeprefix("*."))
    return value


def _absolute_path(value: str) -> str:
    if not value.startswith("/") or "\x00" in value or "/../" in f"{value}/":
        raise ValueError(f"{value!r} is not an absolute path")
    return value


def _device_path(value: str) -> str:
    if not value.startswith("/dev/") or len(value) <= len("/dev/"):
        raise ValueError(f"{value!r} is not a device path (e.g. /dev/sda)")
    return _absolute_path(value)


def _bootstrap_token(value: str) -> str:
    if not _BOOTSTRAP_TOKEN.fullmatch(value):
        raise ValueError("bootstrap token must match [a-z0-9]{6}.[a-z0-9]{16}")
    return value


def _kube_version(value: str) -> str:
    if not _KUBE_VERSION.fullmatch(value):
        raise ValueError(f"{value!r} is not a Kubernetes version (e.g. v1.36.0)")
    return value if value.startswith("v") else f"v{value}"


def _interface_name(value: str) -> str:
    if not _INTERFACE_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a network interface name (1-15 characters)")
    return value


def _base64_32_bytes(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError("not valid base64") from None
    if len(raw) != 32:
        raise ValueError(f"must encode exactly 32 bytes, got {len(raw)}")
    return value


def _sysctl_name(value: str) -> str:
    if not _SYSCTL_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a sysctl name (e.g. net.ipv4.ip_forward)")
    return value


Duration = Annotated[str, AfterValidator(_duration)]
IPAddress = Annotated[str, AfterValidator(_ip_address)]
InterfaceCIDR = Annotated[str, AfterValidator(_interface_cidr)]
NetworkCIDR = Annotated[str, AfterValidator(_network_cidr)]
HttpURL = Annotated[str, AfterValidator(_http_url)]
HttpsURL = Annotated[str, AfterValidator(_https_url)]
Hostname = Annotated[str, AfterValidator(_hostname)]
DNSDomain = Annotated[str, AfterValidator(_dns_domain)]
SubjectAltName = Annotated[str, AfterValidator(_san)]
AbsolutePath = Annotated[str, AfterValidator(_absolute_path)]
DevicePath = Annotated[str, AfterValidator(_device_path)]
BootstrapToken = Annotated[str, AfterValidator(_bootstrap_token)]
KubernetesVersion = Annotated[str, AfterValidator(_kube_version)]
InterfaceName = Annotated[str, AfterValidator(_interface_name)]
SecretboxKey = Annotated[str, AfterValidator(_base64_32_bytes)]
SysctlName = Annotated[str, AfterValidator(_sysctl_name)]


def _decode_pem(value: str, what: str) -> bytes:
    try:
        pem = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError(f"{what} must be base64-encoded PEM") from None
    if not pem.startswith(b"-----BEGIN "):
        raise ValueError(f"{what} must be base64-encoded PEM")
    return pem


def _pem_certificate(value: str) -> str:
    from cryptography import x509

    try:
        x509.load_pem_x509_certificate(_decode_pem(value, "certificate"))
    except ValueError as exc:
        raise ValueError(f"not a valid PEM certificate: {exc}") from None
    return value


def _pem_private_key(value: str) -> str:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        serialization.load_pem_private_key(_decode_pem(value, "private key"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a valid unencrypted PEM private key: {exc}") from None
    return value


PemCertificate = Annotated[str, AfterValidator(_pem_certificate)]
PemPrivateKey = Annotated[str, AfterValidator(_pem_private_key)]
