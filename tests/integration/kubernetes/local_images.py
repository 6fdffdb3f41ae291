"""Container images built on the spot for the Kubernetes tests (no registry holds any here):
one static program each, packed as a Docker image archive that ``ctr images import`` reads.

``pause`` sleeps until SIGTERM/SIGINT (the pod sandbox); ``hello`` prints a line and exits;
``net serve PORT`` answers every TCP connection with a line, ``net get IP PORT`` prints what
the server at ``IP`` says (retrying the connection for a minute) and leaves it as the
container's termination message.
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
NET_IMAGE = "kiln.test/net:1"
NET_GREETING = "hello across the pod network"
NET_PORT = 8080

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


NET_C = r"""
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static const char greeting[] = "GREETING\n";
static void done(int sig) { (void)sig; _exit(0); }
static int serve(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {0};
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 8)) { perror("listen"); return 1; }
    for (;;) {
        int c = accept(s, 0, 0);
        if (c >= 0) { (void)!write(c, greeting, sizeof greeting - 1); close(c); }
    }
}
static int get(const char *ip, int port) {
    struct sockaddr_in a = {0};
    struct timeval limit = {5, 0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
        fprintf(stderr, "bad address %s\n", ip);
        return 2;
    }
    for (int i = 0; i < 60; i++) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
            char buf[256];
            ssize_t n;
            FILE *message = fopen("/dev/termination-log", "w");
            while ((n = read(s, buf, sizeof buf)) > 0) {
                fwrite(buf, 1, (size_t)n, stdout);
                if (message) fwrite(buf, 1, (size_t)n, message);
            }
            if (message) fclose(message);
            return 0;
        }
        perror("connect");
        close(s);
        sleep(1);
    }
    return 1;
}
int main(int argc, char **argv) {
    signal(SIGTERM, done);
    signal(SIGINT, done);
    if (argc == 3 && !strcmp(argv[1], "serve")) return serve(atoi(argv[2]));
    if (argc == 4 && !strcmp(argv[1], "get")) return get(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: net serve PORT | net get IP PORT\n");
    return 2;
}
""".replace("GREETING", NET_GREETING)


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


def build_images(work: Path, *, net: bool = False) -> list[Path]:
    """Image archives of :data:`PAUSE_IMAGE` and :data:`HELLO_IMAGE` (and :data:`NET_IMAGE`)
    in ``work``; blocking."""
    work.mkdir(parents=True, exist_ok=True)
    built = [
        _archive(PAUSE_IMAGE, _compile(PAUSE_C, work, "pause"), "pause", work / "pause.tar"),
        _archive(HELLO_IMAGE, _compile(HELLO_C, work, "hello"), "hello", work / "hello.tar"),
    ]
    if net:
        built.append(_archive(NET_IMAGE, _compile(NET_C, work, "net"), "net", work / "net.tar"))
    return built
