"""The client's one error: a machine API call failed, translated once from gRPC."""

from __future__ import annotations

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
