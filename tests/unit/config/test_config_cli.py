"""kilnctl validate, machineconfig patch and gen schema: output, files and exit codes."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from kiln.ctl.main import run
from kiln.machinery.config import json_schema, load_config, load_config_file

Doc = dict[str, Any]


@pytest.fixture
def cp_file(tmp_path: Path, controlplane: Doc, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "cp.yaml"
    path.write_text(yaml.safe_dump(controlplane, sort_keys=False))
    return path


def errors_only(err: str) -> list[str]:
    """The stderr lines, each checked to be a single ``error:`` line without a traceback."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), err
    return lines


def test_validate_ok(cp_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", "-f", "cp.yaml", "--mode", "metal"]) == 0
    out, err = capsys.readouterr()
    assert out == "cp.yaml is valid for metal mode\n"
    assert err == ""


def test_validate_warnings_and_strict(cp_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", "-f", "cp.yaml", "--mode", "container"]) == 0
    out, err = capsys.readouterr()
    assert out == "cp.yaml is valid for container mode\n"
    assert err.splitlines() == [
        "warning: cp.yaml: document 1 (MachineConfig): machine.network.interfaces: "
        "do not apply in container mode (the container runtime owns the links)",
    ]
    assert run(["validate", "-f", "cp.yaml", "--mode", "container", "--strict"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert len(errors_only(err)) == 1


def test_validate_reports_every_problem(
    cp_file: Path, controlplane: Doc, capsys: pytest.CaptureFixture[str]
) -> None:
    controlplane["machine"]["network"]["interfaces"][0]["addresses"][1] = "10.0.0.300/24"
    controlplane["cluster"]["token"] = "nope"
    cp_file.write_text(yaml.safe_dump(controlplane, sort_keys=False))
    assert run(["validate", "-f", "cp.yaml", "--mode", "cloud"]) == 1
    assert errors_only(capsys.readouterr().err) == [
        "error: cp.yaml: document 1 (MachineConfig): machine.network.interfaces[0].addresses[1]: "
        "'10.0.0.300/24' is not an address in CIDR form (e.g. 192.168.1.10/24)",
        "error: cp.yaml: document 1 (MachineConfig): "
        "cluster.token: bootstrap token must match [a-z0-9]{6}.[a-z0-9]{16}",
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["validate", "-f", "missing.yaml", "--mode", "metal"], 1,
         "error: missing.yaml: No such file or directory"),
        (["validate", "-f", "cp.yaml", "--mode", "moon"], 2,
         "error: Invalid value for '--mode': 'moon' is not one of 'metal', 'container', 'cloud'."),
        (["validate", "--mode", "metal"], 2, "error: Missing option '-f' / '--file'."),
        (["machineconfig", "patch", "cp.yaml"], 2, "error: Missing option '-p' / '--patch'."),
        (["machineconfig", "patch", "cp.yaml", "-p", "@nope.yaml"], 1,
         "error: nope.yaml: No such file or directory"),
        (["machineconfig", "patch", "cp.yaml", "-p", "[{op: remove, path: /x}]"], 1,
         "error: patch 1: operation 1 of 1 (remove /x): can't remove a non-existent object 'x'"),
        (["machineconfig", "patch", "cp.yaml", "-p", "{}", "-p", "a: ["], 1,
         "error: patch 2: line 1, column 5: expected the node content, but found '<stream end>' "
         "(while parsing a flow node)"),
        (["machineconfig", "patch", "nope.yaml", "-p", "{}"], 1,
         "error: nope.yaml: No such file or directory"),
    ],
)  # fmt: skip
def test_errors_are_one_line_with_exit_codes(
    cp_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    assert run(args) == code
    out, err = capsys.readouterr()
    assert out == ""
    [line] = errors_only(err)
    assert line.startswith(message)


def test_debug_shows_the_traceback(cp_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--debug", "machineconfig", "patch", "cp.yaml", "-p", "@nope.yaml"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert err.splitlines()[-1] == "error: nope.yaml: No such file or directory"


def test_patch_prints_the_result(cp_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (cp_file.parent / "eth1.yaml").write_text(
        "machine:\n  network:\n    interfaces:\n      - name: eth1\n        dhcp: true\n"
    )
    args = ["machineconfig", "patch", "cp.yaml", "-p", "@eth1.yaml"]
    args += ["-p", '[{"op": "replace", "path": "/machine/network/hostname", "value": "cp-2"}]']
    assert run(args) == 0
    out, err = capsys.readouterr()
    assert err == ""
    config = load_config(out)
    assert config.machine_config.machine.network.hostname == "cp-2"
    assert [i.name for i in config.machine_config.machine.network.interfaces] == ["eth0", "eth1"]


def test_patch_invalid_result(cp_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["machineconfig", "patch", "cp.yaml", "-p", "machine: {install: {disk: sda}}"]
    assert run(args) == 1
    assert errors_only(capsys.readouterr().err) == [
        "error: cp.yaml (after patches): document 1 (MachineConfig): machine.install.disk: "
        "'sda' is not a device path (e.g. /dev/sda)"
    ]


def test_patch_writes_a_private_file_and_refuses_to_overwrite(
    cp_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patch = ["-p", "machine: {install: {wipe: true}}"]
    assert run(["machineconfig", "patch", "cp.yaml", *patch, "-o", "out.yaml"]) == 0
    assert capsys.readouterr() == ("", "wrote out.yaml\n")
    out = cp_file.parent / "out.yaml"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert load_config_file(out).machine_config.machine.install.wipe is True

    before = cp_file.read_text()
    assert run(["machineconfig", "patch", "cp.yaml", *patch, "-o", "cp.yaml"]) == 1
    assert errors_only(capsys.readouterr().err) == [
        "error: cp.yaml already exists (use --force to overwrite)"
    ]
    assert cp_file.read_text() == before
    assert run(["machineconfig", "patch", "cp.yaml", *patch, "-o", "cp.yaml", "--force"]) == 0
    assert load_config_file(cp_file).machine_config.machine.install.wipe is True


def test_gen_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["gen", "schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()
    target = tmp_path / "schema.json"
    assert run(["gen", "schema", "-o", str(target)]) == 0
    assert capsys.readouterr() == ("", f"wrote {target}\n")
    assert json.loads(target.read_text()) == json_schema()
    assert run(["gen", "schema", "-o", str(target)]) == 1
    assert errors_only(capsys.readouterr().err)[-1].endswith("(use --force to overwrite)")
    assert run(["gen", "schema", "-o", str(target), "--force"]) == 0
