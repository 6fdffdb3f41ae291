"""Join a hub: verify it by the token's pin, then present the token, UUID, secret and key."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import grpc
from cryptography.hazmat.primitives import serialization

from kiln.machined.errors import MachinedError
from kiln.machined.hublink.identity import HubIdentity, Joined
from kiln.machinery.api import hublink_pb2 as pb
from kiln.machinery.api import hublink_pb2_grpc
from kiln.machinery.hubjoin import JoinToken, certificate_pin
from kiln.machinery.pinning import PinningError, fetch_certificate, trusting

TIMEOUT = 15.0
#: A join does real work on a busy hub (a certificate, durable writes): it is not abandoned
#: early, or the machine would only ask again and add to the load.
JOIN_TIMEOUT = 60.0


class HubJoinError(MachinedError):
    """The hub could not be reached or verified, or it refused the join.

    ``permanent`` is true when retrying cannot help by itself (refused token, identity).
    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        self.permanent = permanent
        super().__init__(message)


def hub_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 443


async def fetch_pinned(host: str, port: int, pin: str) -> bytes:
    """The certificate the hub serves, if its SHA-256 is ``pin``; HubJoinError otherwise."""
    try:
        der = await fetch_certificate(host, port)
    except PinningError as exc:
        raise HubJoinError(f"cannot reach the hub: {exc}") from None
    pem = ssl.DER_cert_to_PEM_cert(der).encode()
    if certificate_pin(pem) != pin:
        raise HubJoinError(
            f"the server at {host}:{port} is not the hub the join token names "
            "(its certificate does not match the token's pin)",
            permanent=True,
        )
    return pem


async def join(url: str, token: JoinToken, uuid: str, identity: HubIdentity) -> Joined:
    host, port = hub_address(url)
    server = await fetch_pinned(host, port, token.pin)
    security = trusting(server)
    request = pb.JoinRequest(
        token=token.credential,
        uuid=uuid,
        secret=identity.secret(),
        public_key=identity.key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    )
    async with grpc.aio.secure_channel(
        f"{host}:{port}", security.credentials, options=list(security.options)
    ) as channel:
        stub = hublink_pb2_grpc.HubJoinServiceStub(channel)
        try:
            reply = await stub.Join(request, timeout=JOIN_TIMEOUT)
        except grpc.aio.AioRpcError as err:
            permanent = err.code() in (
                grpc.StatusCode.UNAUTHENTICATED,
                grpc.StatusCode.PERMISSION_DENIED,
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            what = "the hub refused the join" if permanent else "the join did not complete"
            raise HubJoinError(
                f"{what}: {err.details()} ({err.code().name})", permanent=permanent
            ) from None
    joined = Joined(url, reply.certificate, reply.ca, server, reply.machine_port)
    identity.save(joined)
    return joined
