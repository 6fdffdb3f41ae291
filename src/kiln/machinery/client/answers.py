"""What a node's refusals mean to those who drive it through its life (the local
provisioner, the hub): done already, not yet, or a real failure."""

from __future__ import annotations

from kiln.machinery.client.errors import ClientError

NOT_MAINTENANCE = "not in maintenance mode"
ALREADY_BOOTSTRAPPED = "already bootstrapped"
NOT_YET_BOOTSTRAPPABLE = ("try again", "being bootstrapped")  # the node says: wait
UNREACHABLE = ("UNAVAILABLE", "DEADLINE_EXCEEDED")


def configured_already(err: ClientError) -> bool:
    """The maintenance API is gone: the node runs a config."""
    return NOT_MAINTENANCE in err.message


def bootstrapped_already(err: ClientError) -> bool:
    return ALREADY_BOOTSTRAPPED in err.message


def not_yet(err: ClientError) -> bool:
    """The node did not answer, or asks to be asked again later."""
    return err.code in UNREACHABLE or any(words in err.message for words in NOT_YET_BOOTSTRAPPABLE)
