"""What a machine and the hub share about joining: the join token's text and the hub-join file.

A join token reads ``<id>.<secret>.<pin>``: the id and secret the hub checks (it keeps only
the secret's hash), and the pin, the SHA-256 of the certificate the hub serves, base64url. A
machine that holds only a hub URL and a token (kernel arguments ``kiln.hub=URL
kiln.join_token=TOKEN``) verifies the hub by the pin before it sends anything.
"""

from kiln.machinery.hubjoin.config import hub_join_document, load_hub_join, write_hub_join
from kiln.machinery.hubjoin.token import (
    JoinToken,
    TokenError,
    certificate_pin,
    parse_join_token,
)

__all__ = [
    "JoinToken",
    "TokenError",
    "certificate_pin",
    "hub_join_document",
    "load_hub_join",
    "parse_join_token",
    "write_hub_join",
]
