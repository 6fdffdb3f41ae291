"""etcdctl's JSON, as etcd 3.5.1 prints it, parsed into typed reports; its failures
translated into etcd errors."""

from __future__ import annotations

import pytest

from kiln import process
from kiln.machined.etcd import (
    EtcdCommandError,
    EtcdLearnerNotReadyError,
    EtcdMemberNotFoundError,
    EtcdTooManyLearnersError,
    EtcdUnavailableError,
    hex_id,
    parse_member_id,
)
from kiln.machined.etcd.client import etcd_message, translate
from kiln.machined.etcd.reports import (
    find_member,
    parse_health,
    parse_member_added,
    parse_members,
    parse_statuses,
)

MEMBER_LIST = (
    b'{"header":{"cluster_id":16176922636381656399,"member_id":1526894772021103729,'
    b'"raft_term":2},"members":[{"ID":1526894772021103729,"name":"n11","peerURLs":'
    b'["https://127.0.0.11:2380"],"clientURLs":["https://127.0.0.11:2379"]},'
    b'{"ID":17442098696577175917,"peerURLs":["https://127.0.0.12:2380"],"isLearner":true}]}'
)
MEMBER_ADDED = (
    b'{"header":{"cluster_id":16176922636381656399,"member_id":1526894772021103729,'
    b'"raft_term":2},"member":{"ID":17442098696577175917,"peerURLs":'
    b'["https://127.0.0.12:2380"],"isLearner":true},"members":[{"ID":1526894772021103729,'
    b'"name":"n11","peerURLs":["https://127.0.0.11:2380"],"clientURLs":'
    b'["https://127.0.0.11:2379"]},{"ID":17442098696577175917,"peerURLs":'
    b'["https://127.0.0.12:2380"],"isLearner":true}]}'
)
STATUS = (
    b'[{"Endpoint":"https://127.0.0.13:2379","Status":{"header":{"cluster_id":'
    b'16176922636381656399,"member_id":1243426218249989897,"revision":1,"raft_term":4},'
    b'"version":"3.5.1","dbSize":20480,"leader":1526894772021103729,"raftIndex":30,'
    b'"raftTerm":4,"raftAppliedIndex":30,"dbSizeInUse":16384,"isLearner":true}}]'
)
HEALTH = (
    b'[{"endpoint":"https://127.0.0.11:2379","health":true,"took":"6.9ms"},'
    b'{"endpoint":"https://127.0.0.13:2379","health":false,"took":"5.0s",'
    b'"error":"context deadline exceeded"}]'
)


def test_member_ids_stay_uint64_and_print_in_hex() -> None:
    members = parse_members(MEMBER_LIST)
    assert [m.id for m in members] == [1526894772021103729, 17442098696577175917]
    assert members[1].hex_id == "f20ec85a32c9516d" == hex_id(17442098696577175917)
    assert parse_member_id("f20ec85a32c9516d") == 17442098696577175917
    with pytest.raises(ValueError, match="not a member id"):
        parse_member_id("n2")
    with pytest.raises(ValueError, match="uint64"):
        parse_member_id(2**64)


def test_a_learner_that_never_started_has_no_name_and_no_client_urls() -> None:
    started, learner = parse_members(MEMBER_LIST)
    assert started.started and started.voting and started.client_urls
    assert not learner.started and learner.is_learner and learner.client_urls == ()
    assert find_member([started, learner], peer_url="https://127.0.0.12:2380") is learner
    assert find_member([started, learner], peer_url="https://127.0.0.99:2380") is None


def test_an_added_member_gets_its_initial_cluster_with_its_own_name() -> None:
    added = parse_member_added(MEMBER_ADDED)
    assert added.member.is_learner
    assert added.initial_cluster("n12") == [
        ("n11", "https://127.0.0.11:2380"),
        ("n12", "https://127.0.0.12:2380"),
    ]


def test_status_and_health() -> None:
    [status] = parse_statuses(STATUS)
    assert status.member_id == 1243426218249989897 and not status.is_leader
    assert status.status.is_learner and status.status.raft_applied_index == 30
    healthy, unhealthy = parse_health(HEALTH)
    assert healthy.health and not unhealthy.health
    assert unhealthy.error == "context deadline exceeded"


def test_unexpected_output_is_an_etcd_error_naming_the_command() -> None:
    with pytest.raises(EtcdCommandError, match="member list failed: unexpected output"):
        parse_members(b'{"members": [{"name": "no id"}]}')
    with pytest.raises(EtcdCommandError, match="endpoint status"):
        parse_statuses(b"not json")


def failed(
    *stderr: str, error: type[process.ProcessError] = process.ProcessError
) -> process.ProcessError:
    return error(["etcdctl", "member"], "exited with code 1", stderr="\n".join(stderr).encode())


LOG_LINE = '{"level":"warn","msg":"retrying of unary invoker failed"}'


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("etcdserver: member not found", EtcdMemberNotFoundError),
        (
            "etcdserver: can only promote a learner member which is in sync with leader",
            EtcdLearnerNotReadyError,
        ),
        ("etcdserver: too many learner members in cluster", EtcdTooManyLearnersError),
        ("etcdserver: unhealthy cluster", EtcdUnavailableError),
        ("context deadline exceeded", EtcdUnavailableError),
        ("etcdserver: Peer URLs already exists", EtcdCommandError),
    ],
)
def test_etcd_messages_become_typed_errors(message: str, kind: type[EtcdCommandError]) -> None:
    error = translate("member add", failed(LOG_LINE, f"Error: {message}"))
    assert type(error) is kind
    assert str(error) == f"etcd member add failed: {message}"
    assert error.detail == message
    assert error.lines()[-1] == f"Error: {message}"


def test_the_message_is_the_error_line_else_the_last_plain_line() -> None:
    assert etcd_message([LOG_LINE, "Error: boom", LOG_LINE]) == "boom"
    assert etcd_message(["Snapshot saved", "Failed to get the status of endpoint x", LOG_LINE]) == (
        "Failed to get the status of endpoint x"
    )
    assert etcd_message([LOG_LINE]) == ""
    assert str(translate("defrag", failed(LOG_LINE))) == "etcd defrag failed: exited with code 1"


def test_a_timeout_is_unavailability() -> None:
    error = translate("member list", failed(error=process.ProcessTimeoutError))
    assert isinstance(error, EtcdUnavailableError) and error.temporary
