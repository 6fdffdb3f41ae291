"""Fuzzing: whatever the input, loading a config or a patch raises nothing but our own errors.

Every rejected input must become a ConfigError (or PatchError) with at least one problem, each
problem one line; nothing else may escape (no YAML, pydantic, Unicode or recursion errors).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.machinery.config import (
    ConfigError,
    MachineConfig,
    PatchError,
    apply_patches,
    load_config,
    parse_patch,
)

Doc = dict[str, Any]

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(data: str | bytes) -> MachineConfig | None:
    """Load ``data``; return the config, or None after checking the error is well formed."""
    try:
        return load_config(data, source="fuzz.yaml")
    except ConfigError as exc:
        assert exc.problems
        for line in exc.lines():
            assert line.startswith("fuzz.yaml: ")
            assert "\n" not in line and "\r" not in line, line
        return None


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)
YAML_PIECES = st.sampled_from(
    [
        "apiVersion: kiln.dev/v1alpha1\n", "kind: MachineConfig\n", "kind: HubJoinConfig\n",
        "machine:\n", "cluster:\n", "  ", "    ", "- ", "&a ", "*a", "&b ", "*b", "<<: ", "? ",
        "!!binary ", "!!set ", "!!timestamp ", "!!omap ", "!!python/object:os.system ", "!x ",
        "---\n", "...\n", "{", "}", "[", "]", ": ", ", ", "\n", "\t", "1e999", ".nan", "0x_",
        "9" * 60, "'", '"', "\\u00e9", "\\ud800", "yes", "~", "2001-01-01", "%YAML 1.1\n",
        "%TAG ! tag:x,2000:\n", "|\n", ">-\n", "# c\n", "\x85", "\u2028", "\ufeff", "\x00",
    ]
)  # fmt: skip


@FUZZ
@given(st.binary(max_size=1000))
def test_random_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(
    st.text(alphabet=st.sampled_from(list(":-[]{}!&*#|>'\"\n ,?%@`~\t\\ab01é\u2028")), max_size=200)
)
def test_random_yamlish_characters(text: str) -> None:
    check(text)


@FUZZ
@given(st.lists(YAML_PIECES | st.text(max_size=5), max_size=40).map("".join))
def test_random_yaml_pieces(text: str) -> None:
    check(text)


@FUZZ
@given(st.lists(JSON, min_size=1, max_size=3))
def test_random_structures(documents: list[Any]) -> None:
    check(yaml.safe_dump_all(documents))


@FUZZ
@given(machine=JSON, cluster=JSON)
def test_random_sections_of_a_machine_config(machine: Any, cluster: Any) -> None:
    document = {"apiVersion": "kiln.dev/v1alpha1", "kind": "MachineConfig"}
    check(yaml.safe_dump({**document, "machine": machine, "cluster": cluster}))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@FUZZ
@given(data=st.data())
def test_random_value_anywhere_in_a_valid_config(
    data: st.DataObject, base_controlplane: Doc
) -> None:
    document = copy.deepcopy(base_controlplane)
    path = data.draw(st.sampled_from(_paths(document)[1:]))
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = data.draw(JSON)
    check(yaml.safe_dump(document))


@FUZZ
@given(data=st.data())
def test_mutated_valid_text(data: st.DataObject, base_controlplane: Doc) -> None:
    text = yaml.safe_dump(base_controlplane, sort_keys=False)
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 20)))
        text = text[:start] + data.draw(YAML_PIECES | st.text(max_size=3)) + text[end:]
    check(text)


@pytest.mark.parametrize("depth", [10, 63, 64, 65, 200, 5000])
@pytest.mark.parametrize("kind", ["flow-list", "flow-map", "block-list", "block-map", "alias"])
def test_deep_nesting(depth: int, kind: str) -> None:
    text = {
        "flow-list": "[" * depth + "]" * depth,
        "flow-map": "{a: " * depth + "1" + "}" * depth,
        "block-list": "".join("  " * i + "-\n" for i in range(depth)),
        "block-map": "".join("  " * i + "a:\n" for i in range(depth)),
        "alias": "a: &a [1]\n"
        + "".join(f"a{i}: &a{i} [*a{i - 1 if i else ''}]\n" for i in range(depth)),
    }[kind]
    check(text)


def test_alias_bombs_fail_fast() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        previous, name = f"{'a' * level}", f"{'a' * (level + 1)}"
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    assert check("\n".join(lines)) is None


NUMBERS = st.builds(
    lambda sign, digits, tail: f"{sign}{digits}{tail}",
    st.sampled_from(["", "-", "+", "0x", "0o", "0b", "-0x"]),
    st.integers(1, 6000).map(lambda size: "9" * size) | st.text("0123456789_", min_size=1),
    st.sampled_from(["", ".5", "e999", "e-999", ".0e+308", "_0", ":30", ":59:59", "."]),
)


@FUZZ
@given(NUMBERS | st.floats().map(repr))
def test_huge_numbers(number: str) -> None:
    check(f"kind: MachineConfig\nmachine: {{token: {number}}}\nx: [{number}]\n")


@FUZZ
@given(st.lists(st.sampled_from(["a", "b", "kind", "apiVersion"]), min_size=2, max_size=6))
def test_duplicate_keys(keys: list[str]) -> None:
    check("".join(f"{key}: {index}\n" for index, key in enumerate(keys)))


# Patches: random patch text, strategic and JSON, onto a valid config.

OPERATIONS = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "x"]),
            "path": st.sampled_from(
                ["", "/", "/machine", "/machine/network/hostname", "/machine/network/interfaces/0",
                 "/machine/network/interfaces/-", "/machine/x/y", "/cluster/token", "/kind",
                 "/machine/files/01", "/~2", "machine"]
            ),
        },
        optional={"value": JSON, "from": st.sampled_from(["/machine/network", "/nope", "/x"])},
    ),
    max_size=4,
)  # fmt: skip


def apply_or_fail(config: MachineConfig, text: str) -> None:
    try:
        patched = apply_patches(config, [parse_patch(text)])
    except (PatchError, ConfigError) as exc:
        for line in exc.lines():
            assert "\n" not in line, line
        return
    assert load_config(patched.to_yaml()) == patched  # whatever a patch makes is a valid config


@FUZZ
@given(data=st.data())
def test_random_json_patches(data: st.DataObject, base_controlplane: Doc) -> None:
    config = MachineConfig.from_documents([base_controlplane])
    apply_or_fail(config, json.dumps(data.draw(OPERATIONS)))


@FUZZ
@given(data=st.data())
def test_random_strategic_patches(data: st.DataObject, base_controlplane: Doc) -> None:
    config = MachineConfig.from_documents([base_controlplane])
    keyed = st.sampled_from(["name", "network", "path", "key", "$patch"])
    patch_value = st.recursive(
        JSON_SCALARS | st.just({"$patch": "delete"}),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(keyed | st.text(max_size=8), children, max_size=3)
        ),
        max_leaves=15,
    )
    patch = {
        "machine": data.draw(
            st.dictionaries(
                st.sampled_from(["network", "files", "kubelet", "x"]), patch_value, max_size=3
            )
        ),
        **data.draw(
            st.dictionaries(
                st.sampled_from(["kind", "apiVersion", "$patch", "cluster"]),
                patch_value,
                max_size=2,
            )
        ),
    }
    apply_or_fail(config, json.dumps(patch))


@FUZZ
@given(st.lists(YAML_PIECES | st.text(max_size=5), max_size=30).map("".join))
def test_random_patch_text(text: str) -> None:
    try:
        parse_patch(text)
    except PatchError as exc:
        assert "\n" not in str(exc)
