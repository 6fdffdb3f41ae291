"""EtcdMember: a member of the cluster's etcd as this control-plane node's member sees it
(id = the member's hex id). Refreshed while the node's member runs; none on other nodes."""

from __future__ import annotations

from kiln.machinery.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, Resource, definition

TYPE = "EtcdMember"


@definition(
    TYPE,
    namespace=namespaces.ETCD,
    aliases=("members", "etcdmembers"),
    print_columns=(
        PrintColumn("Hostname", "hostname"),
        PrintColumn("Learner", "learner"),
        PrintColumn("Peer URLs", "peerUrls"),
        PrintColumn("Client URLs", "clientUrls"),
    ),
    description="A member of the cluster's etcd, as this node's member sees it.",
)
class EtcdMemberSpec(Spec):
    hostname: str = ""  # empty until the member has started
    learner: bool = False
    peer_urls: list[str] = []
    client_urls: list[str] = []


def new(member_id: str, spec: EtcdMemberSpec) -> Resource[EtcdMemberSpec]:
    return Resource.new(member_id, spec)
