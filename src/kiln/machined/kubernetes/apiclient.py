"""A small client of the Kubernetes API for what the node daemon itself reads and writes (its
Node object, the manifests it applies), authenticated with a client certificate. Blocking:
call it in a thread. Every failure is an :class:`ApiError` saying what was asked and why.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from kiln.machined.kubernetes.errors import KubernetesError

TIMEOUT = 15.0


class ApiError(KubernetesError):
    """A request to the Kubernetes API failed; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status

    @property
    def temporary(self) -> bool:
        """No answer, or a failure on the server's side: worth asking again."""
        return self.status == 0 or self.status >= 500


class ApiClient:
    """Requests to ``server`` trusting ``ca``, as the holder of ``cert`` and ``key`` (PEM files;
    one file may hold both)."""

    def __init__(self, server: str, ca: Path, cert: Path, key: Path | None = None) -> None:
        self.server = server.rstrip("/")
        self._ca, self._cert, self._key = ca, cert, key

    def _context(self) -> ssl.SSLContext:
        # Made per request: the kubelet rotates its certificate file under us.
        try:
            context = ssl.create_default_context(cafile=str(self._ca))
            context.load_cert_chain(str(self._cert), None if self._key is None else str(self._key))
        except (OSError, ssl.SSLError) as exc:
            raise ApiError(f"cannot load the credentials {self._cert}: {exc}") from exc
        return context

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """The decoded JSON answer to ``method path``."""
        request = urllib.request.Request(self.server + path, data=body, method=method)
        request.add_header("Accept", "application/json")
        if body is not None:
            request.add_header("Content-Type", content_type)
        what = f"{method} {path}"
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT, context=self._context()) as got:
                return json.loads(got.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise ApiError(f"{what}: {exc.code} {reason_of(exc)}", exc.code) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ApiError(f"{what}: {exc}") from exc
        except ValueError as exc:
            raise ApiError(f"{what}: the answer is not JSON ({exc})") from exc

    def get(self, path: str) -> Any:
        return self.request("GET", path)


def reason_of(error: urllib.error.HTTPError) -> str:
    """The Status answer's message and the messages of its causes (the PodDisruptionBudget
    that refuses an eviction, ...)."""
    try:
        status = json.loads(error.read())
        message = status.get("message")
        causes = (status.get("details") or {}).get("causes") or []
        found = [str(cause["message"]) for cause in causes if cause.get("message")]
    except (ValueError, OSError, AttributeError, TypeError):
        message, found = None, []
    return "; ".join([str(message or error.reason), *found])
