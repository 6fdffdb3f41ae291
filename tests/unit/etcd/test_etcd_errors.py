"""Failed gRPC calls to etcd, and failed etcdutl runs, translated once into typed etcd errors
with etcd's own message (the strings of etcd 3.5's api/v3rpc/rpctypes/error.go)."""

from __future__ import annotations

import grpc
import pytest

from kiln import process
from kiln.machined.etcd import (
    EtcdClient,
    EtcdClientTLS,
    EtcdCommandError,
    EtcdLearnerNotReadyError,
    EtcdMemberNotFoundError,
    EtcdTooManyLearnersError,
    EtcdUnavailableError,
    EtcdUnreachableError,
)
from kiln.machined.etcd.rpc import retry_read, target, translate
from kiln.machined.etcd.snapshots import etcd_message, restore_error

ENDPOINT = "https://127.0.0.11:2379"


def failed(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        (grpc.StatusCode.NOT_FOUND, "etcdserver: member not found", EtcdMemberNotFoundError),
        (
            grpc.StatusCode.FAILED_PRECONDITION,
            "etcdserver: can only promote a learner member which is in sync with leader",
            EtcdLearnerNotReadyError,
        ),
        (
            grpc.StatusCode.FAILED_PRECONDITION,
            "etcdserver: too many learner members in cluster",
            EtcdTooManyLearnersError,
        ),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: unhealthy cluster", EtcdUnavailableError),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader", EtcdUnavailableError),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: leader changed", EtcdUnavailableError),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: request timed out", EtcdUnavailableError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", EtcdUnavailableError),
        (
            grpc.StatusCode.UNAVAILABLE,
            "etcdserver: rpc not supported for learner",
            EtcdUnreachableError,
        ),
        (
            grpc.StatusCode.FAILED_PRECONDITION,
            "etcdserver: Peer URLs already exists",
            EtcdCommandError,
        ),
        (
            grpc.StatusCode.FAILED_PRECONDITION,
            "etcdserver: can only promote a learner member",
            EtcdCommandError,
        ),
        (grpc.StatusCode.PERMISSION_DENIED, "etcdserver: permission denied", EtcdCommandError),
    ],
)
def test_etcd_messages_become_typed_errors(
    code: grpc.StatusCode, message: str, kind: type[EtcdCommandError]
) -> None:
    error = translate("member add", ENDPOINT, failed(code, message))
    assert type(error) is kind
    assert str(error) == f"etcd member add failed: {message}"
    assert error.detail == message
    assert error.lines()[-1] == f"{ENDPOINT}: gRPC status {code.name}"


def test_no_connection_is_an_unreachable_endpoint_worth_trying_another() -> None:
    error = translate(
        "member list", ENDPOINT, failed(grpc.StatusCode.UNAVAILABLE, "failed to connect")
    )
    assert isinstance(error, EtcdUnreachableError) and isinstance(error, EtcdUnavailableError)
    assert error.temporary
    assert error.detail == f"{ENDPOINT}: failed to connect"


def test_temporary_kinds_are_temporary() -> None:
    for code, message in [
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: leader changed"),
        (
            grpc.StatusCode.FAILED_PRECONDITION,
            "etcdserver: can only promote a learner member which is in sync with leader",
        ),
    ]:
        assert translate("x", ENDPOINT, failed(code, message)).temporary
    assert not translate(
        "x", ENDPOINT, failed(grpc.StatusCode.NOT_FOUND, "etcdserver: member not found")
    ).temporary


def test_endpoints_must_be_https_host_port(tmp_path: object) -> None:
    assert target("https://127.0.0.11:2379") == "127.0.0.11:2379"
    assert target("https://[fd00::1]:2379/") == "[fd00::1]:2379"
    tls = EtcdClientTLS(*(tmp_path / name for name in ("ca", "cert", "key")))  # type: ignore[operator]
    for bad in ("http://127.0.0.1:2379", "127.0.0.1:2379", "https://127.0.0.1", "https://h:x"):
        with pytest.raises(ValueError, match="https://host:port"):
            EtcdClient([bad], tls)


async def test_missing_certificate_files_are_an_error_naming_them(tmp_path: object) -> None:
    tls = EtcdClientTLS(*(tmp_path / name for name in ("ca", "cert", "key")))  # type: ignore[operator]
    with pytest.raises(EtcdCommandError, match="cannot read the etcd client certificate"):
        await EtcdClient([ENDPOINT], tls).member_list()


LOG_LINE = '{"level":"warn","msg":"something"}'


def test_an_etcdutl_failure_names_its_error_line_else_its_last_plain_line() -> None:
    assert etcd_message([LOG_LINE, "Error: boom", LOG_LINE]) == "boom"
    assert etcd_message(["Snapshot saved", "Failed to restore", LOG_LINE]) == "Failed to restore"
    assert etcd_message([LOG_LINE]) == ""
    exc = process.ProcessError(
        ["etcdutl"],
        "exited with code 1",
        stderr=f"{LOG_LINE}\nError: snapshot missing hash".encode(),
    )
    error = restore_error(exc)
    assert str(error) == "etcd snapshot restore failed: snapshot missing hash"


@pytest.mark.parametrize(
    ("code", "message", "again"),
    [
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: leader changed", True),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader", True),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: request timed out", True),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: rpc not supported for learner", False),
        (grpc.StatusCode.UNAVAILABLE, "Socket closed", False),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", False),
        (grpc.StatusCode.NOT_FOUND, "etcdserver: member not found", False),
    ],
)
def test_a_read_is_asked_again_only_when_etcd_took_it_but_could_not_serve_it(
    code: grpc.StatusCode, message: str, again: bool
) -> None:
    exc = failed(code, message)
    assert retry_read(exc, translate("get", ENDPOINT, exc)) is again
