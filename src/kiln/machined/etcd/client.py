"""A client of an etcd cluster: etcdctl with mutual TLS, run through :mod:`kiln.process`.

Every call runs ``etcdctl`` once against the client's endpoints (any member answers cluster-wide
requests; requests about one member go to that member's endpoint). JSON output is parsed into
the types of :mod:`kiln.machined.etcd.reports`; a failure is translated here, once, into an
:class:`~kiln.machined.etcd.errors.EtcdCommandError` naming the operation and etcd's message.

etcdctl 3.5.1 crashes when printing ``member promote`` as JSON (after the promotion took
effect), so commands that answer nothing worth parsing run with its plain output.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from kiln import process
from kiln.machined.etcd import reports
from kiln.machined.etcd.errors import (
    EtcdCommandError,
    EtcdLearnerNotReadyError,
    EtcdMemberIdTakenError,
    EtcdMemberNotFoundError,
    EtcdTooManyLearnersError,
    EtcdUnavailableError,
)
from kiln.machined.etcd.reports import EndpointHealth, EndpointStatus, Member, MemberAdded
from kiln.machined.etcd.retry import Deadline, retry_temporary
from kiln.machined.etcd.tls import EtcdClientTLS

logger = logging.getLogger(__name__)

# What etcd says → the error it becomes. The first match wins.
_KNOWN_MESSAGES: tuple[tuple[str, type[EtcdCommandError]], ...] = (
    ("member not found", EtcdMemberNotFoundError),
    ("which is in sync with leader", EtcdLearnerNotReadyError),
    ("too many learner members", EtcdTooManyLearnersError),
    ("context deadline exceeded", EtcdUnavailableError),
    ("connection refused", EtcdUnavailableError),
    ("no leader", EtcdUnavailableError),
    ("leader changed", EtcdUnavailableError),
    ("request timed out", EtcdUnavailableError),
    ("unhealthy cluster", EtcdUnavailableError),
    ("rpc not supported for learner", EtcdUnavailableError),
)
NOT_A_LEARNER = "can only promote a learner member"  # the whole message: it is voting


def translate(what: str, exc: process.ProcessError) -> EtcdCommandError:
    """The etcd error for a failed etcd program run for ``what`` ("member add")."""
    detail = etcd_message(exc.stderr_tail) or exc.reason
    if isinstance(exc, process.ProcessTimeoutError):
        return EtcdUnavailableError(what, f"no answer: {exc.reason}", exc.stderr_tail)
    for needle, kind in _KNOWN_MESSAGES:
        if needle in detail:
            return kind(what, detail, exc.stderr_tail)
    return EtcdCommandError(what, detail, exc.stderr_tail)


def etcd_message(lines: Sequence[str]) -> str:
    """etcd's own message in the tail of an etcd program's stderr: its ``Error: ...`` line,
    else the last line that is not a structured log record."""
    for line in reversed(lines):
        if line.startswith("Error: "):
            return line.removeprefix("Error: ").strip()
    for line in reversed(lines):
        if not line.lstrip().startswith("{"):
            return line.strip()
    return ""


class EtcdClient:
    """etcdctl against ``endpoints`` (``https://host:port`` client URLs), authenticated with
    ``tls``. ``dial_timeout`` bounds connecting, ``command_timeout`` each request."""

    def __init__(
        self,
        endpoints: Sequence[str],
        tls: EtcdClientTLS,
        *,
        etcdctl: str | os.PathLike[str],
        dial_timeout: float = 2.0,
        command_timeout: float = 5.0,
    ) -> None:
        if isinstance(endpoints, str) or not endpoints:
            raise ValueError("an etcd client needs a list of one or more endpoints")
        self.endpoints = tuple(endpoints)
        self.tls = tls
        self.etcdctl = Path(etcdctl)
        self.dial_timeout = dial_timeout
        self.command_timeout = command_timeout

    def __repr__(self) -> str:
        return f"<EtcdClient {','.join(self.endpoints)}>"

    def with_endpoints(self, endpoints: Sequence[str]) -> EtcdClient:
        """The same client talking to other endpoints."""
        return EtcdClient(
            endpoints,
            self.tls,
            etcdctl=self.etcdctl,
            dial_timeout=self.dial_timeout,
            command_timeout=self.command_timeout,
        )

    async def _run(
        self,
        what: str,
        *args: str,
        json_output: bool = True,
        endpoints: Sequence[str] | None = None,
        command_timeout: float | None = None,
        check: bool = True,
        stdin: str | None = None,
    ) -> process.Completed:
        limit = command_timeout or self.command_timeout
        argv = [
            str(self.etcdctl),
            f"--endpoints={','.join(endpoints or self.endpoints)}",
            *self.tls.etcdctl_flags(),
            f"--dial-timeout={self.dial_timeout:g}s",
            f"--command-timeout={limit:g}s",
            *(["--write-out=json"] if json_output else []),
            *args,
        ]
        try:
            return await process.run(
                argv,
                env={"ETCDCTL_API": "3"},
                timeout=limit + self.dial_timeout + 5.0,
                check=check,
                input=None if stdin is None else stdin.encode(),
            )
        except process.ProcessError as exc:
            raise translate(what, exc) from exc

    async def member_list(self) -> list[Member]:
        """Every member, voting and learners, started or not."""
        done = await self._run("member list", "member", "list")
        return reports.parse_members(done.stdout)

    async def member_add(
        self, name: str, peer_urls: Sequence[str], *, learner: bool = True
    ) -> MemberAdded:
        """Add a member (a learner by default). The answer holds its id and, through
        :meth:`MemberAdded.initial_cluster`, the ``--initial-cluster`` it must start with."""
        args = ["member", "add", name, f"--peer-urls={','.join(peer_urls)}"]
        if learner:
            args.append("--learner")
        try:
            done = await self._run("member add", *args)
        except EtcdMemberNotFoundError as exc:
            raise EtcdMemberIdTakenError(
                "member add",
                f"{exc.detail} (the new member's id is that of a member removed within the "
                "same second; add it again a second later)",
                exc.stderr_tail,
            ) from exc
        return reports.parse_member_added(done.stdout)

    async def member_promote(self, member_id: int, *, retry_for: float = 60.0) -> None:
        """Promote a learner to a voting member. While etcd answers that the learner is not
        in sync with the leader yet (or another temporary error), try again with growing
        delays for up to ``retry_for`` seconds, then raise the last error
        (:class:`EtcdLearnerNotReadyError`). A member that is already voting (an earlier
        attempt went through) counts as promoted."""

        async def promote() -> None:
            try:
                await self._run(
                    "member promote",
                    *("member", "promote", reports.hex_id(member_id)),
                    json_output=False,
                )
            except EtcdCommandError as exc:
                if exc.detail.endswith(NOT_A_LEARNER) and await self._is_voting(member_id):
                    return
                raise

        await retry_temporary(promote, "member promote", Deadline(retry_for))

    async def _is_voting(self, member_id: int) -> bool:
        members = await self.member_list()
        return any(member.id == member_id and member.voting for member in members)

    async def member_remove(self, member_id: int) -> None:
        """Remove a member; :class:`EtcdMemberNotFoundError` when there is no such member."""
        await self._run(
            "member remove", "member", "remove", reports.hex_id(member_id), json_output=False
        )

    async def status(self, endpoint: str | None = None) -> EndpointStatus:
        """The status of one member, through its own ``endpoint`` (default: the first)."""
        target = endpoint or self.endpoints[0]
        done = await self._run("endpoint status", "endpoint", "status", endpoints=[target])
        statuses = reports.parse_statuses(done.stdout)
        if not statuses:
            raise EtcdUnavailableError("endpoint status", f"{target} did not answer")
        return statuses[0]

    async def statuses(self) -> list[EndpointStatus]:
        """The status of every endpoint that answers; those that do not are left out."""
        done = await self._run("endpoint status", "endpoint", "status", check=False)
        if done.returncode != 0 and not done.stdout.strip():
            raise translate(
                "endpoint status",
                process.ProcessError(done.argv, "failed", stderr=done.stderr),
            )
        return reports.parse_statuses(done.stdout or b"[]")

    async def endpoint_health(self) -> list[EndpointHealth]:
        """The health of every endpoint (a linearizable read through each one). Unhealthy
        endpoints are reported, not raised."""
        done = await self._run("endpoint health", "endpoint", "health", check=False)
        if done.stdout.strip():
            return reports.parse_health(done.stdout)
        raise translate(
            "endpoint health", process.ProcessError(done.argv, "failed", stderr=done.stderr)
        )

    async def move_leader(self, to_id: int) -> None:
        """Make ``to_id`` the leader. The client's endpoints must include the current
        leader's (etcdctl sends the request to it)."""
        await self._run("move-leader", "move-leader", reports.hex_id(to_id), json_output=False)

    async def defragment(self, *, command_timeout: float = 60.0) -> None:
        """Defragment the database of every endpoint, one after the other (each blocks its
        member while it runs)."""
        await self._run("defrag", "defrag", json_output=False, command_timeout=command_timeout)

    async def snapshot_save(
        self, path: str | os.PathLike[str], *, command_timeout: float = 300.0
    ) -> None:
        """Save a snapshot of the database, taken from the first endpoint, to ``path``."""
        await self._run(
            "snapshot save",
            "snapshot",
            "save",
            os.fspath(path),
            json_output=False,
            endpoints=self.endpoints[:1],
            command_timeout=command_timeout,
        )

    async def put(self, key: str, value: str) -> None:
        """Write one key (diagnostics and tests; Kubernetes talks to etcd itself)."""
        await self._run("put", "put", "--", key, value, json_output=False)

    async def get(self, key: str) -> bytes | None:
        """Read one key; None when it does not exist."""
        done = await self._run("get", "get", "--", key)
        try:
            kvs = json.loads(done.stdout).get("kvs") or []
            return base64.b64decode(kvs[0].get("value", "")) if kvs else None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EtcdCommandError("get", f"unexpected output ({exc})") from exc

    async def try_lock(self, key: str, holder: str, ttl: int) -> int | None:
        """Take the lock ``key`` for ``holder`` unless someone holds it: the lease that holds it
        (it ends after ``ttl`` seconds, or at :meth:`unlock`), or None when it is taken."""
        granted = await self._run("lease grant", "lease", "grant", str(ttl))
        try:
            lease = int(json.loads(granted.stdout)["ID"])
        except (ValueError, KeyError, TypeError) as exc:
            raise EtcdCommandError("lease grant", f"unexpected output ({exc})") from exc
        transaction = f'create("{key}") = "0"\n\nput --lease={lease:x} {key} {holder}\n\n\n'
        done = await self._run("lock", "txn", "--interactive=false", stdin=transaction)
        try:
            taken = bool(json.loads(done.stdout).get("succeeded"))
        except (ValueError, AttributeError) as exc:
            raise EtcdCommandError("lock", f"unexpected output ({exc})") from exc
        if taken:
            return lease
        await self.unlock(lease)
        return None

    async def unlock(self, lease: int) -> None:
        """Give up a lock taken with :meth:`try_lock` (its lease ends)."""
        await self._run("unlock", "lease", "revoke", f"{lease:x}", json_output=False)
