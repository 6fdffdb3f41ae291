"""YAML that is malformed, hostile or outside JSON is a ConfigError naming the line or path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kiln.machinery.config import ConfigError, load_config, load_config_file
from kiln.machinery.config.yamlparse import MAX_DEPTH, MAX_DOCUMENTS, MAX_INPUT_BYTES, MAX_VALUES

Doc = dict[str, Any]


def dump(*documents: object) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False)


def lines(text: str | bytes) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(text, source="c.yaml")
    return caught.value.lines()


def test_syntax_error_names_line_and_column() -> None:
    text = "apiVersion: kiln.dev/v1alpha1\nkind: MachineConfig\nmachine:\n  type: [worker\n"
    assert lines(text) == [
        "c.yaml: line 5, column 1: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 4, column 9)"
    ]


def test_tab_indentation() -> None:
    assert lines("machine:\n\ttype: worker\n") == [
        "c.yaml: line 2, column 1: found character '\\t' that cannot start any token "
        "(while scanning for the next token)"
    ]


def test_problems_before_a_syntax_error_are_kept(controlplane: Doc) -> None:
    text = "a: 1\na: 2\n---\n" + dump(controlplane) + "---\nx: [\n"
    last = len(text.splitlines()) + 1
    assert lines(text) == [
        "c.yaml: document 1: a: duplicate key (lines 1 and 2)",
        f"c.yaml: line {last}, column 1: expected the node content, but found '<stream end>' "
        "(while parsing a flow node)",
    ]


def test_duplicate_keys_at_any_depth(controlplane: Doc) -> None:
    text = dump(controlplane).replace(
        "  type: controlplane\n", "  type: controlplane\n  type: worker\n"
    )
    text = text.replace("    hostname: cp-1\n", "    hostname: cp-1\n    hostname: cp-2\n")
    assert lines(text) == [
        "c.yaml: document 1 (MachineConfig): machine.type: duplicate key (lines 4 and 5)",
        "c.yaml: document 1 (MachineConfig): machine.network.hostname: "
        f"duplicate key (lines {text.splitlines().index('    hostname: cp-1') + 1} and "
        f"{text.splitlines().index('    hostname: cp-2') + 1})",
    ]


def test_non_string_keys() -> None:
    assert lines(
        "apiVersion: kiln.dev/v1alpha1\nkind: MachineConfig\n1: a\nyes: b\n? [x]\n: c\n"
    ) == [
        "c.yaml: document 1 (MachineConfig): key '1' is read as an integer; "
        "keys must be strings (quote it) (line 3)",
        "c.yaml: document 1 (MachineConfig): key 'yes' is read as a boolean; "
        "keys must be strings (quote it) (line 4)",
        "c.yaml: document 1 (MachineConfig): keys must be strings, not lists or mappings (line 5)",
    ]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2024-01-01", "dates and times are not allowed; quote the value (line 2)"),
        ("2024-01-01T10:00:00Z", "dates and times are not allowed; quote the value (line 2)"),
        ("!!binary aGVsbG8=", "!!binary is not allowed (line 2)"),
        ("!!set {a, b}", "!!set is not allowed (line 2)"),
        ("!!omap [a: 1]", "!!omap is not allowed (line 2)"),
        ("!!pairs [a: 1]", "!!pairs is not allowed (line 2)"),
        ("!!python/name:os.system ''", "!!python/name:os.system is not allowed (line 2)"),
        ("!local 1", "!local is not allowed (line 2)"),
        (".nan", "'.nan' is not a finite number (line 2)"),
        ("-.inf", "'-.inf' is not a finite number (line 2)"),
        ("1" * 5000, f"'{'1' * 40}...' cannot be read as an integer (line 2)"),
        ("0x_", "'0x_' cannot be read as an integer (line 2)"),
    ],
)
def test_values_json_cannot_hold_are_refused(value: str, reason: str) -> None:
    text = f"kind: MachineConfig\nmachine: {{token: {value}}}\n"
    assert lines(text) == [f"c.yaml: document 1 (MachineConfig): machine.token: {reason}"]


def test_anchors_aliases_and_merge_keys_work(controlplane: Doc) -> None:
    text = dump(controlplane)
    text = text.replace("  certSANs:\n  - 10.0.0.10\n", "  certSANs:\n  - &ip 10.0.0.10\n")
    text = text.replace("    nameservers:\n    - 1.1.1.1\n", "    nameservers:\n    - *ip\n")
    text += (
        "---\n"
        "apiVersion: kiln.dev/v1alpha1\n"
        "kind: HubJoinConfig\n"
        "<<: [{url: 'https://hub.example.com', joinToken: merged-1}, {joinToken: merged-2}]\n"
        "joinToken: written-wins\n"
    )
    config = load_config(text)
    assert config.machine_config.machine.network.nameservers == ["10.0.0.10"]
    assert config.hub_join is not None
    assert config.hub_join.url == "https://hub.example.com"
    assert config.hub_join.join_token == "written-wins"


def test_recursive_alias_is_refused() -> None:
    assert lines("kind: MachineConfig\nmachine: &m {network: *m}\n") == [
        "c.yaml: document 1 (MachineConfig): machine.network: "
        "an alias refers to the value that contains it (line 2)"
    ]


def test_alias_bomb_is_refused_quickly() -> None:
    text = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for level in range(1, 10):
        prev, name = chr(96 + level), chr(97 + level)
        text += f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    assert lines(text) == ["c.yaml: document 1: more than 100000 values after expanding aliases"]


@pytest.mark.parametrize(
    "text",
    [
        "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5),
        "{a: " * 10_000 + "}" * 10_000,
        "- " * 5000 + "x",
    ],
)
def test_deep_nesting_is_refused(text: str) -> None:
    [line] = lines(text)
    assert line.startswith("c.yaml: line 1, column ")
    assert line.endswith(": nesting too deep")


def test_nesting_up_to_the_limit_is_fine() -> None:
    text = "kind: MachineConfig\nx: " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2) + "\n"
    assert lines(text) == ["c.yaml: document 1 (MachineConfig): apiVersion: required"]


def test_too_many_documents() -> None:
    assert lines("a: 1\n---\n" * (MAX_DOCUMENTS + 1))[-1] == (
        f"c.yaml: input: more than {MAX_DOCUMENTS} documents"
    )


def test_too_large(tmp_path: Path) -> None:
    text = "# " + "x" * MAX_INPUT_BYTES + "\n"
    assert lines(text) == ["c.yaml: input: larger than 4 MiB"]
    path = tmp_path / "big.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"big.yaml: input: larger than 4 MiB"):
        load_config_file(path)


def test_bytes_input(controlplane: Doc) -> None:
    text = dump(controlplane)
    assert load_config(text.encode()) == load_config(text)
    assert load_config(b"\xef\xbb\xbf" + text.encode()) == load_config(text)
    assert load_config(text.encode("utf-16")) == load_config(text)
    assert lines(b"kind: \xff\n") == [
        "c.yaml: input: not utf-8 text: cannot decode byte 6: invalid start byte"
    ]


def test_control_characters() -> None:
    assert lines("kind: Machine\x00Config\n") == [
        "c.yaml: line 1, column 14: unacceptable character #x0000: "
        "special characters are not allowed"
    ]


def test_load_config_file(tmp_path: Path, controlplane: Doc) -> None:
    path = tmp_path / "cp.yaml"
    path.write_text(dump(controlplane))
    config = load_config_file(path)
    assert config.source == str(path)
    assert config == load_config(dump(controlplane))
    with pytest.raises(FileNotFoundError):
        load_config_file(tmp_path / "missing.yaml")


def test_too_many_values_stop_reading_early() -> None:
    assert lines("- 1\n" * (MAX_VALUES + 10)) == [
        f"c.yaml: line {MAX_VALUES}, column 3: more than {MAX_VALUES} values"
    ]
