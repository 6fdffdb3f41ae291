"""etcd's gRPC answers, as etcd 3.5 sends them, made into typed reports."""

from __future__ import annotations

import pytest

from kiln.machined.etcd import hex_id, parse_member_id
from kiln.machined.etcd.api import rpc_pb2
from kiln.machined.etcd.client import lock_transaction
from kiln.machined.etcd.reports import (
    find_member,
    go_duration,
    member_added_from,
    member_from,
    status_from,
)

HEADER = rpc_pb2.ResponseHeader(
    cluster_id=16176922636381656399, member_id=1526894772021103729, raft_term=2
)
STARTED = rpc_pb2.Member(
    ID=1526894772021103729,
    name="n11",
    peerURLs=["https://127.0.0.11:2380"],
    clientURLs=["https://127.0.0.11:2379"],
)
NEW_LEARNER = rpc_pb2.Member(
    ID=17442098696577175917, peerURLs=["https://127.0.0.12:2380"], isLearner=True
)


def test_member_ids_stay_uint64_and_print_in_hex() -> None:
    members = [member_from(STARTED), member_from(NEW_LEARNER)]
    assert [m.id for m in members] == [1526894772021103729, 17442098696577175917]
    assert members[1].hex_id == "f20ec85a32c9516d" == hex_id(17442098696577175917)
    assert parse_member_id("f20ec85a32c9516d") == 17442098696577175917
    with pytest.raises(ValueError, match="not a member id"):
        parse_member_id("n2")
    with pytest.raises(ValueError, match="uint64"):
        parse_member_id(2**64)


def test_a_learner_that_never_started_has_no_name_and_no_client_urls() -> None:
    started, learner = member_from(STARTED), member_from(NEW_LEARNER)
    assert started.started and started.voting and started.client_urls
    assert not learner.started and learner.is_learner and learner.client_urls == ()
    assert find_member([started, learner], peer_url="https://127.0.0.12:2380") is learner
    assert find_member([started, learner], peer_url="https://127.0.0.99:2380") is None


def test_an_added_member_gets_its_initial_cluster_with_its_own_name() -> None:
    answer = rpc_pb2.MemberAddResponse(
        header=HEADER, member=NEW_LEARNER, members=[STARTED, NEW_LEARNER]
    )
    added = member_added_from(answer)
    assert added.member.is_learner and added.header.cluster_id == 16176922636381656399
    assert added.initial_cluster("n12") == [
        ("n11", "https://127.0.0.11:2380"),
        ("n12", "https://127.0.0.12:2380"),
    ]


def test_every_peer_url_is_in_the_initial_cluster_and_unstarted_others_go_by_id() -> None:
    two_urls = rpc_pb2.Member(
        ID=10, name="a", peerURLs=["https://10.0.0.1:2380", "https://[fd00::1]:2380"]
    )
    not_started = rpc_pb2.Member(ID=11, peerURLs=["https://10.0.0.2:2380"])
    new = rpc_pb2.Member(ID=12, peerURLs=["https://10.0.0.3:2380"], isLearner=True)
    answer = rpc_pb2.MemberAddResponse(member=new, members=[two_urls, not_started, new])
    assert member_added_from(answer).initial_cluster("c") == [
        ("a", "https://10.0.0.1:2380"),
        ("a", "https://[fd00::1]:2380"),
        (hex_id(11), "https://10.0.0.2:2380"),
        ("c", "https://10.0.0.3:2380"),
    ]


def test_status_names_the_endpoint_the_member_and_its_leader() -> None:
    answer = rpc_pb2.StatusResponse(
        header=rpc_pb2.ResponseHeader(member_id=1243426218249989897, raft_term=4),
        version="3.5.1",
        dbSize=20480,
        dbSizeInUse=16384,
        leader=1526894772021103729,
        raftIndex=30,
        raftTerm=4,
        raftAppliedIndex=30,
        isLearner=True,
        errors=["NOSPACE"],
    )
    status = status_from("https://127.0.0.13:2379", answer)
    assert status.endpoint == "https://127.0.0.13:2379"
    assert status.member_id == 1243426218249989897 and not status.is_leader
    assert status.leader == 1526894772021103729
    assert status.status.is_learner and status.status.raft_applied_index == 30
    assert status.status.db_size_in_use == 16384 and status.status.errors == ("NOSPACE",)
    leading = rpc_pb2.StatusResponse(header=rpc_pb2.ResponseHeader(member_id=7), leader=7)
    assert status_from("https://x:2379", leading).is_leader


@pytest.mark.parametrize(
    ("seconds", "printed"),
    [
        (0, "0s"),
        (0.0000005, "500ns"),
        (0.00085, "850µs"),
        (0.0069, "6.9ms"),
        (0.012345678, "12.345678ms"),
        (1.5, "1.5s"),
        (5, "5s"),
    ],
)
def test_took_times_print_as_go_durations(seconds: float, printed: str) -> None:
    assert go_duration(seconds) == printed


def test_a_lock_is_a_put_under_the_lease_if_the_key_was_never_created() -> None:
    txn = lock_transaction("/kiln/lock", "node-1", 0x1234)
    [compare] = txn.compare
    assert compare.key == b"/kiln/lock"
    assert compare.target == rpc_pb2.Compare.CREATE
    assert compare.result == rpc_pb2.Compare.EQUAL
    assert compare.WhichOneof("target_union") == "create_revision"
    assert compare.create_revision == 0
    [op] = txn.success
    assert op.request_put.key == b"/kiln/lock" and op.request_put.value == b"node-1"
    assert op.request_put.lease == 0x1234
    assert not txn.failure
