"""Errors to gRPC statuses, once, at the server's boundary."""

from __future__ import annotations

import grpc

from kiln.errors import KilnError
from kiln.hub import errors
from kiln.machinery.client import ClientError
from kiln.resources import errors as resource_errors

_CODES: tuple[tuple[type[Exception], grpc.StatusCode], ...] = (
    (errors.UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED),
    (errors.PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED),
    (errors.InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFoundError, grpc.StatusCode.NOT_FOUND),
    (errors.NotReadyError, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.MachineUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (resource_errors.NotFoundError, grpc.StatusCode.NOT_FOUND),
    (resource_errors.SelectorError, grpc.StatusCode.INVALID_ARGUMENT),
    (resource_errors.VersionConflictError, grpc.StatusCode.ABORTED),
)


def status_of(err: Exception) -> tuple[grpc.StatusCode, str]:
    if isinstance(err, ClientError) and err.code:
        code = getattr(grpc.StatusCode, err.code, grpc.StatusCode.UNKNOWN)
        return code, f"the machine answered: {err.message}"
    for kind, code in _CODES:
        if isinstance(err, kind):
            return code, str(err)
    if isinstance(err, KilnError):
        return grpc.StatusCode.INTERNAL, str(err)
    return grpc.StatusCode.INTERNAL, f"internal error: {err}"
