"""Join (the API port): a machine presents a join token, its UUID, its secret and a public
key, and gets a certificate from the hub CA for its connection.

The first join of a UUID records the hash of the machine's secret; a later join of the same
UUID must present the same secret (another machine cannot take its identity), and a revoked
machine cannot join again. Every join issues a new certificate and makes it the only one the
hub accepts from that machine.
"""

from __future__ import annotations

import uuid as uuidlib
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kiln.hub.api.access import AUDIT_WHO
from kiln.hub.auth import secrets
from kiln.hub.auth.join_tokens import JoinTokens
from kiln.hub.errors import InvalidRequestError, PermissionDeniedError
from kiln.hub.links.machines import Machines
from kiln.hub.resources import MachineSpec
from kiln.machinery.api import hublink_pb2 as pb
from kiln.machinery.api import hublink_pb2_grpc
from kiln.machinery.secrets import CertificateAuthority, Usage

MACHINE_ORGANIZATION = "kiln:machine"
CERTIFICATE_VALIDITY = timedelta(days=365)


class JoinService(hublink_pb2_grpc.HubJoinServiceServicer):
    def __init__(
        self, tokens: JoinTokens, machines: Machines, ca: CertificateAuthority, machine_port: int
    ) -> None:
        self._tokens = tokens
        self._machines = machines
        self._ca = ca
        self._machine_port = machine_port

    async def Join(self, request: pb.JoinRequest, context: Any) -> pb.JoinResponse:
        uuid = _check_uuid(request.uuid)
        AUDIT_WHO.set(f"machine:{uuid}")
        token_id = await self._tokens.check(request.token)
        if len(request.secret) < 16:
            raise InvalidRequestError("the machine secret is missing or too short")
        public_key = _public_key(request.public_key)
        known = await self._machines.find(uuid)
        if known is not None:
            if known.spec.revoked:
                raise PermissionDeniedError(f"machine {uuid} is revoked: it cannot join again")
            if not secrets.matches(request.secret, known.spec.secret_hash):
                raise PermissionDeniedError(
                    f"machine {uuid} joined before with another secret: refused "
                    "(a machine cannot take another machine's identity)"
                )
        certificate = self._ca.sign(
            public_key,
            uuid,
            Usage.CLIENT,
            CERTIFICATE_VALIDITY,
            organizations=[MACHINE_ORGANIZATION],
        )
        serial = str(certificate.x509().serial_number)

        def joined(spec: MachineSpec) -> None:
            spec.certificate_serial = serial
            spec.joined_with = token_id

        await self._machines.put(
            uuid, joined, MachineSpec(secret_hash=secrets.digest(request.secret))
        )
        return pb.JoinResponse(
            certificate=certificate.pem,
            ca=self._ca.certificate.pem,
            machine_port=self._machine_port,
        )


def _check_uuid(text: str) -> str:
    try:
        return str(uuidlib.UUID(text))
    except ValueError:
        raise InvalidRequestError(f"{text!r:.60} is not a machine UUID") from None


def _public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise InvalidRequestError("the machine's public key is not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidRequestError("the machine's public key must be ECDSA P-256")
    return key
