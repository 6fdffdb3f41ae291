"""JoinToken: a token machines join with; the hub keeps the SHA-256 of its secret."""

from __future__ import annotations

from kiln.hub.resources import namespaces
from kiln.hub.resources.credential import CredentialSpec
from kiln.resources import PrintColumn, definition


@definition(
    "JoinToken",
    namespace=namespaces.AUTH,
    aliases=("jointokens", "tokens"),
    print_columns=(
        PrintColumn("Expires", "expires"),
        PrintColumn("Revoked", "revoked"),
        PrintColumn("Description", "description"),
    ),
    description="A join token: its expiry and the hash of its secret.",
)
class JoinTokenSpec(CredentialSpec):
    pass
