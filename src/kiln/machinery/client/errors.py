"""The client's errors: a machine API call failed, translated once from gRPC; or, for a call
forwarded to several nodes, some of them failed while the others answered.

::

    MachineryError
    └── ClientError      a call failed (``code``: the gRPC status name, ``node``: where)
        └── NodeErrors   nodes named in a forwarded call failed (``failures``, ``answered``)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from kiln.machinery.errors import MachineryError

_HINTS = {
    grpc.StatusCode.UNAVAILABLE: "is the node up and the endpoint right?",
    grpc.StatusCode.DEADLINE_EXCEEDED: "the node did not answer in time",
}


class ClientError(MachineryError):
    """A machine API call failed. ``code`` is the gRPC status name (``"PERMISSION_DENIED"``),
    or ``""`` when the call was not made (no endpoint, bad credentials); ``str()`` carries the
    server's message, whose lines :meth:`lines` returns one by one."""

    def __init__(self, message: str, *, code: str = "", node: str = "") -> None:
        self.code = code
        self.node = node
        self.message = message
        first, *rest = message.splitlines() or [""]
        more = f" (and {len(rest)} more lines)" if rest else ""
        super().__init__(f"{self._prefix()}{first}{more}")

    def _prefix(self) -> str:
        return f"{self.node}: " if self.node else ""

    def lines(self) -> list[str]:
        return [f"{self._prefix()}{line}" for line in self.message.splitlines() or [""]]


class NodeErrors(ClientError):
    """Nodes a forwarded call named failed: ``failures`` has one ClientError per failed node
    (its ``node`` as the call named it), ``answered`` the messages of the nodes that answered.
    ``code`` is the first failure's."""

    def __init__(self, failures: Sequence[ClientError], answered: Sequence[Any]) -> None:
        self.failures = list(failures)
        self.answered = list(answered)
        lines = [line for failure in self.failures for line in failure.lines()]
        super().__init__("\n".join(lines), code=self.failures[0].code if self.failures else "")


_CODE_NAMES = {code.value[0]: code.name for code in grpc.StatusCode}


def check_answers(reply: object) -> None:
    """NodeErrors if messages of an answer (``repeated messages``) say that their node failed."""
    messages = getattr(reply, "messages", None)
    if messages is None:
        return
    failures = [
        ClientError(
            message.metadata.error,
            code=_CODE_NAMES.get(message.metadata.code, "UNKNOWN"),
            node=message.metadata.node,
        )
        for message in messages
        if message.metadata.error
    ]
    if failures:
        raise NodeErrors(failures, [message for message in messages if not message.metadata.error])


def translate(err: grpc.aio.AioRpcError, node: str) -> ClientError:
    """The ClientError for a failed call to ``node``."""
    code = err.code()
    details = err.details() or code.name.lower().replace("_", " ")
    hint = _HINTS.get(code)
    if code is grpc.StatusCode.UNAVAILABLE and "handshake" in details.lower():
        hint = "TLS handshake failed: does the certificate come from this node's cluster?"
    if hint and hint not in details:
        details = f"{details} ({hint})"
    return ClientError(details, code=code.name, node=node)
