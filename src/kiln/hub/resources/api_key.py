"""ApiKey: one API key; the hub keeps the SHA-256 of its secret, never the secret."""

from __future__ import annotations

from kiln.hub.resources import namespaces
from kiln.hub.resources.credential import CredentialSpec
from kiln.resources import PrintColumn, definition


@definition(
    "ApiKey",
    namespace=namespaces.AUTH,
    aliases=("apikeys", "keys"),
    print_columns=(
        PrintColumn("Role", "role"),
        PrintColumn("Expires", "expires"),
        PrintColumn("Revoked", "revoked"),
        PrintColumn("Description", "description"),
    ),
    description="An API key: its role, expiry and the hash of its secret.",
)
class ApiKeySpec(CredentialSpec):
    role: str
