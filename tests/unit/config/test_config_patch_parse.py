"""Reading patch arguments: ``@file`` or inline YAML/JSON; which kind of patch it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.machinery.config import JsonPatch, PatchError, StrategicPatch, parse_patch


def test_inline_mapping_is_a_strategic_patch() -> None:
    patch = parse_patch("machine: {network: {hostname: a}}")
    assert patch == StrategicPatch("inline patch", ({"machine": {"network": {"hostname": "a"}}},))


def test_inline_json_list_is_a_json_patch() -> None:
    patch = parse_patch('[{"op": "remove", "path": "/machine/files"}]', source="patch 2")
    assert patch == JsonPatch("patch 2", ({"op": "remove", "path": "/machine/files"},))


def test_multi_document_strategic_patch() -> None:
    patch = parse_patch("a: 1\n---\n---\nkind: HubJoinConfig\n")
    assert isinstance(patch, StrategicPatch)
    assert patch.documents == ({"a": 1}, {"kind": "HubJoinConfig"})


def test_file_patches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "p.yaml").write_text("machine: {network: {hostname: a}}\n")
    (tmp_path / "ops.json").write_text('[{"op": "remove", "path": "/machine/files"}]')
    monkeypatch.chdir(tmp_path)
    strategic = parse_patch("@p.yaml")
    assert isinstance(strategic, StrategicPatch) and strategic.source == "p.yaml"
    json_patch = parse_patch(f"@{tmp_path / 'ops.json'}")
    assert isinstance(json_patch, JsonPatch) and json_patch.source == str(tmp_path / "ops.json")


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ("@missing.yaml", "missing.yaml: No such file or directory"),
        ("@", "a file name must follow '@' in a patch argument"),
        ("@.", ".: Is a directory"),
        ("@a\nb", "'a\\nb': No such file or directory"),
    ],
)
def test_unreadable_patch_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argument: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PatchError) as caught:
        parse_patch(argument)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "p: the patch is empty"),
        ("---\n...\n", "p: the patch is empty"),
        ("hostname", "p: document 1: a patch is a mapping (strategic merge) or a list of "
                     "operations (JSON patch), not string"),
        ("a: 1\n---\n- {op: remove, path: /a}\n", "p: document 2: a patch is a mapping "
                                                  "(strategic merge) or a list of operations "
                                                  "(JSON patch), not list"),
        ("- 1\n", "p: operation 1 of 1: expected a mapping, got integer"),
        ("a: [\n", "p: line 2, column 1: expected the node content, but found '<stream end>' "
                   "(while parsing a flow node)"),
        ("a: 1\na: 2\nb: 2020-01-01\n", "p: document 1: a: duplicate key (lines 1 and 2) "
                                       "(and 1 more)"),
        ("a: !!binary aGk=\n", "p: document 1: a: !!binary is not allowed (line 1)"),
    ],
)  # fmt: skip
def test_text_that_is_not_a_patch(text: str, message: str) -> None:
    with pytest.raises(PatchError) as caught:
        parse_patch(text, source="p")
    assert str(caught.value) == message
