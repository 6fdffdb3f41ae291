"""Where the client connects: flags, the context, the nodes, and what is refused."""

from __future__ import annotations

import pytest

from kiln.machinery.client import ClientError, resolve
from kiln.machinery.kilnconfig import Context, issue_context
from kiln.machinery.roles import Role
from kiln.machinery.secrets import SecretsBundle


@pytest.fixture(scope="module")
def context() -> Context:
    return issue_context(SecretsBundle.generate().os_ca, Role.READER, endpoints=["10.5.0.2"])


def test_the_context_endpoint_with_the_default_port(context: Context) -> None:
    target = resolve(context)
    assert (target.host, target.port, target.insecure) == ("10.5.0.2", 50000, False)


def test_flags_win_and_nodes_alone_are_endpoints(context: Context) -> None:
    assert resolve(context, endpoints=["127.0.0.2:5"]).address == "127.0.0.2:5"
    insecure = resolve(None, nodes=["fd00::5"], insecure=True)
    assert (insecure.address, insecure.insecure) == ("[fd00::5]:50000", True)


def test_nodes_other_than_the_endpoint_are_forwarded_to(context: Context) -> None:
    alone = resolve(context, nodes=["10.5.0.2", "10.5.0.2:50000"])
    assert alone.nodes == ("10.5.0.2", "10.5.0.2:50000") and alone.forwarded == ()
    assert resolve(context, nodes=["10.5.0.3"]).forwarded == ("10.5.0.3",)
    assert resolve(context, nodes=["10.5.0.2", "10.5.0.3"]).forwarded == ("10.5.0.2", "10.5.0.3")
    # A node without a port is on 50000, whatever the endpoint's port.
    assert resolve(context, endpoints=["10.5.0.2:5"], nodes=["10.5.0.2"]).forwarded == ("10.5.0.2",)
    with pytest.raises(ClientError, match="not an endpoint"):
        resolve(context, nodes=["10.5.0.3:nope"])


def test_nodes_default_to_the_contexts(context: Context) -> None:
    with_nodes = context.model_copy(update={"nodes": ["10.5.0.3", "10.5.0.4"]})
    target = resolve(with_nodes)
    assert (target.address, target.forwarded) == ("10.5.0.2:50000", ("10.5.0.3", "10.5.0.4"))
    assert resolve(with_nodes, nodes=["10.5.0.5"]).forwarded == ("10.5.0.5",)


def test_no_endpoint_or_no_credentials_is_an_error() -> None:
    with pytest.raises(ClientError, match="no endpoint"):
        resolve(None, insecure=True)
    with pytest.raises(ClientError, match="--insecure"):
        resolve(None, endpoints=["10.5.0.2"])
