"""Whatever a secrets bundle or kilnconfig file holds, reading it fails with one typed error."""

from __future__ import annotations

import contextlib

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kiln.machinery import kilnconfig
from kiln.machinery.errors import KilnconfigError, SecretsError
from kiln.machinery.secrets import SecretsBundle

_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
_KEYS = st.sampled_from(
    ["version", "cluster", "secrets", "certs", "os", "crt", "key", "context", "contexts", "x"]
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(_VALUES)
def test_any_yaml_value(value: object) -> None:
    text = yaml.safe_dump(value)
    try:
        SecretsBundle.from_yaml(text, "s.yaml")
    except SecretsError as exc:
        assert str(exc).startswith("s.yaml: ")
        assert "\n" not in str(exc)
    try:
        kilnconfig.parse(text, "kc")
    except KilnconfigError as exc:
        assert str(exc).startswith("kc: ")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes(data: bytes | str) -> None:
    with contextlib.suppress(SecretsError):
        SecretsBundle.from_yaml(data, "s.yaml")
    with contextlib.suppress(KilnconfigError):
        kilnconfig.parse(data, "kc")
