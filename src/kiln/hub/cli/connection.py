"""The client's connection to a hub: address, pinned certificate and API key from flags, the
``KILN_HUB*`` variables or a client config file, and calls with errors translated once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from kiln.hub.clientconfig import read_client_config
from kiln.hub.errors import HubClientError
from kiln.machinery.api import hub_pb2_grpc, hubcluster_pb2_grpc
from kiln.machinery.forwarding import AUTHORIZATION, BEARER
from kiln.machinery.pinning import trusting

TIMEOUT = 30.0
#: The largest answer a client takes: a listing of every machine is about 0.5 KB per machine
#: (4.6 MB at 10,000), past gRPC's default of 4 MiB.
MAX_ANSWER = 256 * 1024 * 1024
_T = TypeVar("_T")


@dataclass(frozen=True)
class HubAccess:
    hub: str
    ca: bytes
    api_key: str


def resolve_access(
    hub: str | None, api_key: str | None, ca: Path | None, config: Path | None
) -> HubAccess:
    """Flags and variables (click fills both) over the client config's values."""
    from_file = read_client_config(config) if config is not None else None
    address = hub or (from_file.hub if from_file else "")
    if not address:
        raise HubClientError("no hub: give --hub HOST:PORT, KILN_HUB or --config FILE")
    if ca is not None:
        try:
            pem = ca.read_bytes()
        except OSError as exc:
            raise HubClientError(f"--ca {ca}: {exc.strerror}") from None
    elif from_file is not None:
        pem = from_file.ca.encode()
    else:
        raise HubClientError("no hub certificate: give --ca FILE, KILN_HUB_CA or --config FILE")
    key = api_key or (from_file.api_key if from_file else "")
    return HubAccess(address, pem, key)


@contextlib.asynccontextmanager
async def connect(access: HubAccess) -> AsyncIterator[hub_pb2_grpc.HubServiceAsyncStub]:
    async with _channel(access) as channel:
        yield hub_pb2_grpc.HubServiceStub(channel)


@contextlib.asynccontextmanager
async def connect_clusters(
    access: HubAccess,
) -> AsyncIterator[hubcluster_pb2_grpc.ClusterServiceAsyncStub]:
    async with _channel(access) as channel:
        yield hubcluster_pb2_grpc.ClusterServiceStub(channel)


@contextlib.asynccontextmanager
async def connect_access(
    access: HubAccess,
) -> AsyncIterator[hubcluster_pb2_grpc.ClusterAccessServiceAsyncStub]:
    async with _channel(access) as channel:
        yield hubcluster_pb2_grpc.ClusterAccessServiceStub(channel)


@contextlib.asynccontextmanager
async def _channel(access: HubAccess) -> AsyncIterator[grpc.aio.Channel]:
    try:
        security = trusting(access.ca)
    except ValueError as exc:
        raise HubClientError(f"the hub certificate is not a PEM certificate: {exc}") from None
    channel = grpc.aio.secure_channel(
        access.hub,
        security.credentials,
        options=[*security.options, ("grpc.max_receive_message_length", MAX_ANSWER)],
        interceptors=[_UnaryKey(access.api_key), _StreamKey(access.api_key)],
    )
    try:
        yield channel
    finally:
        await channel.close()


async def call(method: Callable[..., Awaitable[_T]], request: object) -> _T:
    try:
        return await method(request, timeout=TIMEOUT)
    except grpc.aio.AioRpcError as err:
        raise translate(err) from None


async def stream(call_: Any) -> AsyncIterator[Any]:
    try:
        async for item in call_:
            yield item
    except grpc.aio.AioRpcError as err:
        raise translate(err) from None
    finally:
        call_.cancel()


def translate(err: grpc.aio.AioRpcError) -> HubClientError:
    code = err.code()
    details = err.details() or code.name
    if code is grpc.StatusCode.UNAVAILABLE and "machine" not in details:
        details = f"cannot reach the hub: {details}"
    return HubClientError(f"{details} ({code.name})", code=code.name)


def _with_key(details: Any, key: str) -> Any:
    metadata = list(details.metadata or [])
    if key:
        metadata.append((AUTHORIZATION, BEARER + key))
    return details._replace(metadata=metadata)


class _UnaryKey(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds the API key to unary calls (gRPC takes one interceptor class per call kind)."""

    def __init__(self, key: str) -> None:
        self._key = key

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_key(details, self._key), request)


class _StreamKey(grpc.aio.UnaryStreamClientInterceptor):
    """Adds the API key to server-streaming calls."""

    def __init__(self, key: str) -> None:
        self._key = key

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_key(details, self._key), request)
