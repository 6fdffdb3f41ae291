"""Errors become gRPC statuses in one place."""

from __future__ import annotations

import grpc

from kiln.machined.api.status import status_of
from kiln.machined.errors import ConfigRefusedError, NodeStateError, UnsupportedError
from kiln.machined.services import ServiceNotFoundError
from kiln.machinery.errors import ConfigError, ConfigProblem
from kiln.resources import NotFoundError, UnknownTypeError


def test_codes() -> None:
    problems = [ConfigProblem("document 1", "a", "bad"), ConfigProblem("document 1", "b", "worse")]
    code, message = status_of(ConfigError("cfg", problems))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert message.splitlines() == ["cfg: document 1: a: bad", "cfg: document 1: b: worse"]
    assert status_of(ConfigRefusedError("x"))[0] is grpc.StatusCode.FAILED_PRECONDITION
    assert status_of(NodeStateError("x"))[0] is grpc.StatusCode.FAILED_PRECONDITION
    assert status_of(UnsupportedError("x"))[0] is grpc.StatusCode.UNIMPLEMENTED
    assert status_of(ServiceNotFoundError("x"))[0] is grpc.StatusCode.NOT_FOUND
    assert status_of(NotFoundError("a/b/c"))[0] is grpc.StatusCode.NOT_FOUND
    assert status_of(UnknownTypeError("nope"))[0] is grpc.StatusCode.NOT_FOUND
    assert status_of(OSError(28, "No space left on device", "/x"))[1] == (
        "No space left on device: /x"
    )
