"""What the e2e image fixtures hand to tests: the built image and the VM booted from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kiln.image import qemu


@dataclass(frozen=True)
class BuiltImage:
    directory: Path
    public_key: Path
    manifest: dict[str, object]
    seconds: float


@dataclass(frozen=True)
class BootedVM:
    vm: qemu.VM
    host: str
    port: int
    seconds_to_api: float

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"
