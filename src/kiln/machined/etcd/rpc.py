"""Calls to etcd's v3 gRPC API over mutual TLS, and what their failures mean.

:func:`connect` opens a channel to one endpoint (``https://host:port``) and waits up to the dial
timeout for it to be ready; it is closed when the block ends. :func:`translate` turns a failed
call into the typed errors of :mod:`kiln.machined.etcd.errors`, once, from etcd's own messages
(``etcdserver: ...``, see etcd's ``api/v3rpc/rpctypes/error.go``) and the gRPC status code.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator

import grpc

from kiln.machined.etcd.errors import (
    EtcdCommandError,
    EtcdLearnerNotReadyError,
    EtcdMemberNotFoundError,
    EtcdTooManyLearnersError,
    EtcdUnavailableError,
    EtcdUnreachableError,
)
from kiln.machined.etcd.tls import EtcdClientTLS

# etcd's messages → the error they become.
MEMBER_NOT_FOUND = "etcdserver: member not found"
LEARNER_NOT_READY = "etcdserver: can only promote a learner member which is in sync with leader"
TOO_MANY_LEARNERS = "etcdserver: too many learner members in cluster"
NOT_A_LEARNER = "etcdserver: can only promote a learner member"  # it is voting already
PERMISSION_DENIED = "etcdserver: permission denied"
NOT_FOR_LEARNER = "etcdserver: rpc not supported for learner"
_KNOWN_MESSAGES: dict[str, type[EtcdCommandError]] = {
    MEMBER_NOT_FOUND: EtcdMemberNotFoundError,
    LEARNER_NOT_READY: EtcdLearnerNotReadyError,
    TOO_MANY_LEARNERS: EtcdTooManyLearnersError,
    NOT_FOR_LEARNER: EtcdUnreachableError,
}
# no leader, leader changed, request timed out, unhealthy cluster, server stopped, no answer
_UNAVAILABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
ETCD_PREFIX = "etcdserver: "

# etcd answers up to its request size limit and more (a large range); like etcdctl, no limit
CHANNEL_OPTIONS = (("grpc.max_receive_message_length", -1),)


def translate(what: str, endpoint: str, exc: grpc.aio.AioRpcError) -> EtcdCommandError:
    """The etcd error for a call for ``what`` ("member add") through ``endpoint`` that failed.

    An :class:`EtcdUnreachableError` means etcd did not take the request (no connection, or a
    learner refusing it), so another endpoint may be asked."""
    code = exc.code()
    detail = exc.details() or code.name.lower().replace("_", " ")
    tail = [f"{endpoint}: gRPC status {code.name}"]
    if kind := _KNOWN_MESSAGES.get(detail):
        return kind(what, detail, tail)
    if code == grpc.StatusCode.UNAVAILABLE and not detail.startswith(ETCD_PREFIX):
        return EtcdUnreachableError(what, f"{endpoint}: {detail}", tail)
    if code in _UNAVAILABLE_CODES:
        return EtcdUnavailableError(what, detail, tail)
    return EtcdCommandError(what, detail, tail)


def retry_read(exc: grpc.aio.AioRpcError, error: EtcdCommandError) -> bool:
    """Whether a read-only call that failed so is worth making again through the same
    endpoint: etcd took it but could not serve it now (no leader, leader changed, request
    timed out). Not when the endpoint did not take it (another may), nor past the deadline."""
    return exc.code() == grpc.StatusCode.UNAVAILABLE and not isinstance(error, EtcdUnreachableError)


def target(endpoint: str) -> str:
    """``host:port`` of an ``https://host:port`` client URL; ValueError for anything else."""
    parts = urllib.parse.urlsplit(endpoint)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "https" or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise ValueError(f"etcd endpoint {endpoint!r} is not an https://host:port URL")
    return parts.netloc


def credentials(what: str, tls: EtcdClientTLS) -> grpc.ChannelCredentials:
    """Channel credentials from the CA, certificate and key files (read now)."""
    try:
        return grpc.ssl_channel_credentials(
            root_certificates=tls.ca.read_bytes(),
            private_key=tls.key.read_bytes(),
            certificate_chain=tls.cert.read_bytes(),
        )
    except OSError as exc:
        raise EtcdCommandError(what, f"cannot read the etcd client certificate: {exc}") from exc


@contextlib.asynccontextmanager
async def connect(
    what: str, endpoint: str, tls: EtcdClientTLS, dial_timeout: float
) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to ``endpoint``, ready (connected, TLS done) within ``dial_timeout`` or an
    :class:`EtcdUnreachableError`; closed when the block ends."""
    async with grpc.aio.secure_channel(
        target(endpoint), credentials(what, tls), options=CHANNEL_OPTIONS
    ) as channel:
        try:
            async with asyncio.timeout(dial_timeout):
                await channel.channel_ready()
        except TimeoutError:
            raise EtcdUnreachableError(
                what, f"{endpoint}: no connection within {dial_timeout:g}s"
            ) from None
        yield channel
