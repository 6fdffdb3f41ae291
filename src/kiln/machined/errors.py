"""Errors of the node daemon (outside its service supervisor, which has its own tree).

::

    KilnError
    └── MachinedError
        ├── InvalidRequestError      a request that makes no sense whatever the node does
        ├── NodeStateError           the request does not fit what the node is doing now
        │   └── DrainError           the node's pods could not be evicted in time: nothing done
        ├── ConfigRefusedError       a valid config this node will not take (another cluster, ...)
        ├── AccessDeniedError        the caller may not do this (a wrong machine token, ...)
        ├── CertificateRequestError  no control-plane node signed this node's certificate (yet)
        └── UnsupportedError         not available in this mode, or not implemented yet

The API server translates them (and the other layers' errors) to gRPC status codes in one place,
:mod:`kiln.machined.api.status`; the daemon's command line prints them as ``error:`` lines.
"""

from __future__ import annotations

from kiln.errors import KilnError


class MachinedError(KilnError):
    """Base of node daemon errors."""


class InvalidRequestError(MachinedError):
    """A request that is wrong in itself (an unknown mode, a bad argument)."""


class NodeStateError(MachinedError):
    """The request does not fit the node's current stage (maintenance, a pending try, ...)."""


class DrainError(NodeStateError):
    """The node could not be drained in time (a PodDisruptionBudget, pods that do not end):
    the reboot, shutdown, upgrade or reset asked for did not happen; the message says why."""


class ConfigRefusedError(MachinedError):
    """A config that validates but that this node will not take; the message says why."""


class AccessDeniedError(MachinedError):
    """The caller is not allowed to do this: a wrong machine token, a forwarding it may not ask."""


class CertificateRequestError(MachinedError):
    """A control-plane node did not sign the API certificate asked for; asked again later."""


class UnsupportedError(MachinedError):
    """The operation is not available in this mode or not implemented yet."""
