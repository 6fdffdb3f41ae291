"""Errors of the etcd domain of the node daemon.

::

    KilnError
    └── EtcdError
        ├── EtcdBinaryNotFoundError     etcd or etcdutl is not where it was looked for
        ├── EtcdConfigError             a member config is invalid (e.g. extra args overriding
        │                               flags Kiln manages)
        ├── EtcdCertificateError        the member's certificates cannot be made or written
        ├── EtcdStateError              the node or cluster is not in a state the procedure needs
        │                               (bootstrap over existing data, leaving as the last member)
        ├── EtcdServiceError            etcd did not come up under the supervisor in time
        │                               (carries the service's state and the end of its log)
        └── EtcdCommandError            a request to etcd (gRPC) or etcdutl failed; names the
            │                           operation and etcd's own message
            ├── EtcdUnavailableError        no endpoint answered in time (temporary)
            │   └── EtcdUnreachableError        an endpoint did not take the request (no
            │                                   connection, or a learner refusing it)
            ├── EtcdMemberNotFoundError     the member is not (or no longer) in the cluster
            ├── EtcdLearnerNotReadyError    a learner is not yet in sync with the leader
            │                               (temporary: promote again later)
            ├── EtcdMemberIdTakenError      a peer URL re-added within a second of its removal
            │                               (temporary: add again a second later)
            └── EtcdTooManyLearnersError    the cluster already has a learner (temporary: another
                                            member is joining)

Errors whose ``temporary`` is True may succeed when tried again after a while.
Failed gRPC calls are translated into :class:`EtcdCommandError` once, in
:mod:`kiln.machined.etcd.rpc`; :class:`kiln.process.ProcessError` from etcdutl once, in
:mod:`kiln.machined.etcd.snapshots`.
"""

from __future__ import annotations

from collections.abc import Sequence

from kiln.errors import KilnError


class EtcdError(KilnError):
    """Base of etcd-domain errors."""

    temporary: bool = False


class EtcdBinaryNotFoundError(EtcdError):
    """An etcd program is missing or not executable; the message says where it was looked for."""


class EtcdConfigError(EtcdError):
    """A member config is invalid."""


class EtcdCertificateError(EtcdError):
    """The member's certificates cannot be issued, read or written."""


class EtcdStateError(EtcdError):
    """The node or the cluster is not in a state the requested procedure can start from."""


class EtcdServiceError(EtcdError):
    """etcd did not become ready. :meth:`lines` adds what its log says (its last warnings and
    errors, or else its last lines)."""

    def __init__(self, message: str, log_tail: Sequence[str] = ()) -> None:
        self.log_tail = list(log_tail)
        super().__init__(message)

    def lines(self) -> list[str]:
        if not self.log_tail:
            return [str(self)]
        return [f"{self}; its log says:", *self.log_tail]


class EtcdCommandError(EtcdError):
    """A request to etcd or an etcd program failed. ``what`` is the operation ("member add"),
    ``detail`` what etcd said ("etcdserver: Peer URLs already exists"), ``stderr_tail`` the
    last lines of the program's output, or where the request went and its gRPC status."""

    def __init__(self, what: str, detail: str, stderr_tail: Sequence[str] = ()) -> None:
        self.what = what
        self.detail = detail
        self.stderr_tail = list(stderr_tail)
        super().__init__(f"etcd {what} failed: {detail}")

    def lines(self) -> list[str]:
        if not self.stderr_tail:
            return [str(self)]
        return [f"{self}; details:", *self.stderr_tail]


class EtcdUnavailableError(EtcdCommandError):
    """No endpoint answered in time (not started, unreachable, or no quorum)."""

    temporary = True


class EtcdUnreachableError(EtcdUnavailableError):
    """An endpoint did not take the request: no connection in time, or a learner refusing it
    (etcd serves learners little). Another endpoint may; a cluster-wide request tries it."""


class EtcdMemberNotFoundError(EtcdCommandError):
    """The member named in the request is not in the cluster."""


class EtcdLearnerNotReadyError(EtcdCommandError):
    """The learner has not caught up with the leader yet; promote it again later."""

    temporary = True


class EtcdMemberIdTakenError(EtcdCommandError):
    """etcd derives a new member's id from its peer URLs and the current second, and never
    reuses the id of a removed member: re-adding a peer URL within the second it was removed
    fails (etcd 3.5 says "member not found"). Adding it again a second later works."""

    temporary = True


class EtcdTooManyLearnersError(EtcdCommandError):
    """The cluster already has a learner (etcd 3.5 allows one); another member is joining."""

    temporary = True
