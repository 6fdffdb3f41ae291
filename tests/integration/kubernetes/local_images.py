"""Container images built on the spot for the Kubernetes tests (no registry holds any here):
one static program each, packed as a Docker image archive that ``ctr images import`` reads.

``pause`` sleeps until SIGTERM/SIGINT (the pod sandbox); ``hello`` prints a line and exits.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

PAUSE_IMAGE = "kiln.test/pause:1"
HELLO_IMAGE = "kiln.test/hello:1"
HELLO_OUTPUT = "hello from a kiln pod"

PAUSE_C = r"""
#include <signal.h>
#include <unistd.h>
static void done(int sig) { (void)sig; _exit(0); }
int main(void) {
    signal(SIGTERM, done);
    signal(SIGINT, done);
    for (;;) pause();
}
"""

HELLO_C = """
#include <stdio.h>
int main(void) { puts("HELLO"); return 0; }
""".replace("HELLO", HELLO_OUTPUT)


def why_not_buildable() -> str | None:
    if shutil.which("gcc") is None:
        return "building the test images needs gcc with static libc (apt-get install gcc libc6-dev)"
    return None


def _compile(source: str, work: Path, name: str) -> bytes:
    c_file = work / f"{name}.c"
    c_file.write_text(source)
    out = work / name
    subprocess.run(
        ["gcc", "-static", "-Os", "-s", "-o", str(out), str(c_file)], check=True, timeout=120
    )
    return out.read_bytes()


def _layer(program: bytes, name: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(program)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(program))
    return buffer.getvalue()


def _archive(tag: str, program: bytes, name: str, target: Path) -> Path:
    layer = _layer(program, name)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": [f"/{name}"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": ["layer.tar"]}])
    with tarfile.open(target, "w") as tar:
        for member, data in (
            ("layer.tar", layer),
            (config_name, config),
            ("manifest.json", manifest.encode()),
        ):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return target


def build_images(work: Path) -> list[Path]:
    """Image archives of :data:`PAUSE_IMAGE` and :data:`HELLO_IMAGE` in ``work``; blocking."""
    work.mkdir(parents=True, exist_ok=True)
    return [
        _archive(PAUSE_IMAGE, _compile(PAUSE_C, work, "pause"), "pause", work / "pause.tar"),
        _archive(HELLO_IMAGE, _compile(HELLO_C, work, "hello"), "hello", work / "hello.tar"),
    ]
