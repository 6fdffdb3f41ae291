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


def test_nodes_other_than_the_endpoint_need_forwarding(context: Context) -> None:
    assert resolve(context, nodes=["10.5.0.2"]).nodes == ("10.5.0.2",)
    with pytest.raises(ClientError, match="forwarding"):
        resolve(context, nodes=["10.5.0.3"])


def test_no_endpoint_or_no_credentials_is_an_error() -> None:
    with pytest.raises(ClientError, match="no endpoint"):
        resolve(None, insecure=True)
    with pytest.raises(ClientError, match="--insecure"):
        resolve(None, endpoints=["10.5.0.2"])
