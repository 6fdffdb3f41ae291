"""A single node bootstraps a cluster over mutual TLS, serves reads and writes, refuses a
second bootstrap and restarts from its data."""

from __future__ import annotations

import dataclasses

import pytest
from etcd_nodes import MakeNode

from kiln.machined.etcd import (
    EtcdClient,
    EtcdClientTLS,
    EtcdServiceError,
    EtcdStateError,
    EtcdUnavailableError,
    bootstrap_new_cluster,
    issue_etcd_certificates,
    start_member,
)
from kiln.machined.services import RestartPolicy, ServiceState
from kiln.machinery.secrets import SecretsBundle

pytestmark = pytest.mark.integration


async def test_single_node_bootstrap_serves_reads_and_writes(make_node: MakeNode) -> None:
    node = await make_node("solo")
    await bootstrap_new_cluster(node.member, node.runner)

    client = node.client()
    await client.put("/kiln/hello", "world")
    assert await client.get("/kiln/hello") == b"world"
    assert await client.get("/kiln/missing") is None

    members = await client.member_list()
    assert [(m.name, m.voting, m.peer_urls) for m in members] == [
        ("solo", True, (node.member.peer_url,))
    ]
    status = await client.status()
    assert status.is_leader and status.status.version == "3.5.1"
    assert [h.health for h in await client.endpoint_health()] == [True]
    await client.defragment()
    assert [s.member_id for s in await client.statuses()] == [status.member_id]

    spec = node.supervisor.spec("etcd")
    assert spec.restart is RestartPolicy.ALWAYS
    assert "--client-cert-auth=true" in spec.argv and "--peer-client-cert-auth=true" in spec.argv
    healthy = await node.supervisor.wait_for("etcd", ServiceState.RUNNING, healthy=True, timeout=10)
    assert healthy.pid == node.runner.pid
    assert (node.member.data_dir.stat().st_mode & 0o777) == 0o700


async def test_bootstrap_is_done_once_and_a_restart_starts_from_data(make_node: MakeNode) -> None:
    node = await make_node("once")
    await bootstrap_new_cluster(node.member, node.runner)
    await node.client().put("kept", "yes")
    await node.runner.stop()

    with pytest.raises(EtcdStateError, match="already holds a member's data"):
        await bootstrap_new_cluster(node.member, node.runner)

    await start_member(node.member, node.runner, healthy=True)
    assert await node.client().get("kept") == b"yes"


async def test_clients_without_a_certificate_from_the_etcd_ca_are_refused(
    make_node: MakeNode, tmp_path_factory: pytest.TempPathFactory
) -> None:
    node = await make_node("strict")
    await bootstrap_new_cluster(node.member, node.runner)
    stranger_ca = SecretsBundle.generate().etcd_ca
    stranger = issue_etcd_certificates(stranger_ca, "stranger", ["127.0.0.1"])
    paths = stranger.write(tmp_path_factory.mktemp("stranger"))
    # Trusts the right CA, but presents a client certificate the cluster does not trust.
    tls = EtcdClientTLS(node.member.certs.ca, paths.client_cert, paths.client_key)
    client = EtcdClient(
        [node.member.client_url],
        tls,
        dial_timeout=1.0,
        command_timeout=1.0,
    )
    with pytest.raises(EtcdUnavailableError):
        await client.get("anything")


async def test_an_etcd_that_cannot_start_fails_fast_with_the_end_of_its_log(
    make_node: MakeNode,
) -> None:
    node = await make_node("broken")
    broken = dataclasses.replace(node.member, extra_args={"heartbeat-interval": "soon"})

    with pytest.raises(EtcdServiceError, match="exited 3 times") as caught:
        await bootstrap_new_cluster(broken, node.runner, timeout=30)

    assert any("heartbeat-interval" in line for line in caught.value.lines())
