"""The one place where errors become gRPC status codes.

Every handler of the API runs inside :func:`kiln.machined.api.auth` 's wrapper, which catches
:class:`~kiln.errors.KilnError` (and OSError) and aborts the call with the code and message
from :func:`status_of`. A message of several problems (an invalid config) keeps one problem
per line.
"""

from __future__ import annotations

import functools

import grpc

from kiln.errors import KilnError


@functools.cache
def _codes() -> tuple[tuple[type[Exception], grpc.StatusCode], ...]:
    """Error classes and their codes, most specific first. Built on the first error: the early
    API (:mod:`kiln.machined.early`) answers before the modules they live in have loaded."""
    from kiln.machined.errors import (
        AccessDeniedError,
        ConfigRefusedError,
        InvalidRequestError,
        NodeStateError,
        UnsupportedError,
    )
    from kiln.machined.etcd import (
        EtcdBinaryNotFoundError,
        EtcdCertificateError,
        EtcdConfigError,
        EtcdLearnerNotReadyError,
        EtcdMemberIdTakenError,
        EtcdMemberNotFoundError,
        EtcdStateError,
        EtcdTooManyLearnersError,
        EtcdUnavailableError,
    )
    from kiln.machined.services import (
        ServiceBusyError,
        ServiceNotFoundError,
        ServiceSpecError,
        ServiceTimeoutError,
    )
    from kiln.machinery.errors import ConfigError, PatchError, SecretsError
    from kiln.resources import (
        AlreadyExistsError,
        InvalidResourceError,
        NotFoundError,
        SelectorError,
        UnknownTypeError,
    )

    return (
        (ConfigError, grpc.StatusCode.INVALID_ARGUMENT),
        (InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT),
        (PatchError, grpc.StatusCode.INVALID_ARGUMENT),
        (SelectorError, grpc.StatusCode.INVALID_ARGUMENT),
        (InvalidResourceError, grpc.StatusCode.INVALID_ARGUMENT),
        (ServiceSpecError, grpc.StatusCode.INVALID_ARGUMENT),
        (ConfigRefusedError, grpc.StatusCode.FAILED_PRECONDITION),
        (NodeStateError, grpc.StatusCode.FAILED_PRECONDITION),
        (ServiceBusyError, grpc.StatusCode.FAILED_PRECONDITION),
        (SecretsError, grpc.StatusCode.FAILED_PRECONDITION),
        (NotFoundError, grpc.StatusCode.NOT_FOUND),
        (UnknownTypeError, grpc.StatusCode.NOT_FOUND),
        (ServiceNotFoundError, grpc.StatusCode.NOT_FOUND),
        (AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS),
        (AccessDeniedError, grpc.StatusCode.PERMISSION_DENIED),
        (ServiceTimeoutError, grpc.StatusCode.DEADLINE_EXCEEDED),
        (UnsupportedError, grpc.StatusCode.UNIMPLEMENTED),
        (EtcdStateError, grpc.StatusCode.FAILED_PRECONDITION),
        (EtcdConfigError, grpc.StatusCode.FAILED_PRECONDITION),
        (EtcdCertificateError, grpc.StatusCode.FAILED_PRECONDITION),
        (EtcdBinaryNotFoundError, grpc.StatusCode.FAILED_PRECONDITION),
        (EtcdMemberNotFoundError, grpc.StatusCode.NOT_FOUND),
        (EtcdUnavailableError, grpc.StatusCode.UNAVAILABLE),
        (EtcdLearnerNotReadyError, grpc.StatusCode.UNAVAILABLE),
        (EtcdTooManyLearnersError, grpc.StatusCode.UNAVAILABLE),
        (EtcdMemberIdTakenError, grpc.StatusCode.UNAVAILABLE),
    )


def status_of(err: Exception) -> tuple[grpc.StatusCode, str]:
    """The status code and message for an error a handler raised."""
    if isinstance(err, KilnError):
        message = "\n".join(err.lines())
        for kind, code in _codes():
            if isinstance(err, kind):
                return code, message
        return grpc.StatusCode.INTERNAL, message
    if isinstance(err, OSError):
        where = f": {err.filename}" if err.filename else ""
        return grpc.StatusCode.INTERNAL, f"{err.strerror or err}{where}"
    return grpc.StatusCode.INTERNAL, f"internal error: {type(err).__name__}"
