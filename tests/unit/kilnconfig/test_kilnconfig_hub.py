"""A kilnconfig context through a hub: what it holds, how it is written and read back, and
where a client built from it connects with which metadata."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from kiln.machinery import forwarding, kilnconfig
from kiln.machinery.client import ClientError, resolve
from kiln.machinery.client.nodes import interceptors
from kiln.machinery.kilnconfig import Context, HubRoute, Kilnconfig
from kiln.machinery.secrets import CertificateAuthority, KeyAlgorithm

KEY = "khk.abc123.s3cret"


@pytest.fixture(scope="module")
def route() -> HubRoute:
    ca = CertificateAuthority.generate("hub", KeyAlgorithm.ECDSA_P256)
    return HubRoute(url="127.0.0.9:8443", ca=ca.certificate.to_b64(), api_key=KEY, cluster="edge")


def test_a_hub_context_round_trips_without_credentials_of_its_own(
    route: HubRoute, tmp_path: pytest.TempPathFactory
) -> None:
    config = Kilnconfig().add("edge@hub", Context(hub=route, nodes=["10.5.0.3"]))
    text = kilnconfig.dump(config)
    written = yaml.safe_load(text)["contexts"]["edge@hub"]
    assert set(written) == {"endpoints", "nodes", "hub"}
    assert written["hub"]["apiKey"] == KEY and written["hub"]["cluster"] == "edge"
    assert kilnconfig.parse(text, "kilnconfig") == config


def test_a_context_holds_credentials_or_a_hub(route: HubRoute) -> None:
    with pytest.raises(ValidationError, match="missing ca, crt, key"):
        Context(nodes=["n1"])
    with pytest.raises(ValidationError, match="holds no ca: the hub does"):
        Context(hub=route, ca=route.ca)
    with pytest.raises(ValidationError, match="has no endpoints"):
        Context(hub=route, endpoints=["10.5.0.2"])


def test_a_client_of_a_hub_context_dials_the_hub_and_names_every_node(route: HubRoute) -> None:
    context = Context(hub=route)
    target = resolve(context, nodes=["10.5.0.3", "cp-1"])
    assert (target.host, target.port) == ("127.0.0.9", 8443)
    assert target.hub is not None and target.hub.cluster == "edge" and not target.insecure
    assert target.forwarded == ("10.5.0.3", "cp-1")
    assert resolve(context).forwarded == ()  # the hub picks the first control plane
    assert len(interceptors(target)) == 4  # every call shape, Upgrade's client stream too
    with pytest.raises(ClientError, match="name its machines with -n/--nodes"):
        resolve(context, endpoints=["10.5.0.2"])


def test_the_hub_metadata_names_the_key_and_cluster() -> None:
    assert forwarding.AUTHORIZATION == "authorization" and forwarding.BEARER == "Bearer "
    assert forwarding.CLUSTER == "kiln-cluster"


def test_a_hub_context_is_described_by_its_hub_key_and_cluster(route: HubRoute) -> None:
    config = Kilnconfig().add("edge@hub", Context(hub=route))
    described = kilnconfig.describe(config)
    assert described.endpoints == ("127.0.0.9:8443",) and described.expires is None
    assert described.common_name == "API key abc123 through the hub, to cluster edge"
