"""The documents of a cluster template: ``Cluster``, ``ControlPlane``, ``Workers`` and
``Machine``, one YAML document each (camelCase keys, like the machine config)::

    kind: Cluster
    name: demo
    kiln: {version: 0.1.0, image: https://...}  # machines run this version (optional);
                                        # with an image, machines on another are upgraded
    kubernetes: {version: v1.32.0}
    patches: [{name: ntp, inline: {machine: {time: {servers: [pool.ntp.org]}}}}]
    ---
    kind: ControlPlane
    machines: [3f0c..., 9a1d...]        # by UUID, or:
    # machineSelector: {selector: "rack=r1", count: 3}
    ---
    kind: Workers
    name: workers                       # several Workers sets, each with its own name
    machineSelector: {selector: "kiln.dev/arch=amd64", count: 2}
    updateStrategy: {maxParallelism: 1}
    ---
    kind: Machine
    uuid: 3f0c...
    install: {disk: /dev/vda}
    patches: [...]

Patches are layered cluster → machine set → machine: each is a strategic merge patch (a
mapping) or an RFC 6902 JSON patch (a list of operations), inline or from a file next to the
template (``file:``, read by the client before the template is sent).
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from kiln.machinery.resources.spec import Spec
from kiln.resources import Selector, SelectorError

CONTROL_PLANE_SET = "control-planes"
NAME = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
Name = Annotated[str, StringConstraints(pattern=NAME, max_length=63)]
_UUID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$")


class TemplatePatch(Spec):
    """One patch: ``inline`` (a mapping or a list of operations) or ``file`` (client side)."""

    name: str = ""
    inline: dict[str, Any] | list[Any] | None = None
    file: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TemplatePatch:
        if (self.inline is None) == (self.file is None):
            raise ValueError("give exactly one of inline and file")
        return self

    @property
    def label(self) -> str:
        return self.name or self.file or "inline patch"


class Versioned(Spec):
    version: str


class KilnVersion(Spec):
    """The Kiln version a cluster's machines run; ``image`` (an http(s) URL or an absolute
    path on the hub, to an image build directory or a tarball of one) upgrades those on
    another version in place."""

    version: str
    image: str | None = None

    @field_validator("image")
    @classmethod
    def _where(cls, image: str | None) -> str | None:
        if image is not None and not image.startswith(("http://", "https://", "/")):
            raise ValueError(f"{image!r:.70} is neither an http(s) URL nor an absolute path")
        return image

    @property
    def wanted(self) -> str:
        """The version as machines report it (no ``v`` prefix)."""
        return self.version.removeprefix("v")


class UpdateStrategy(Spec):
    max_parallelism: int = Field(default=1, ge=1)


class MachineSelector(Spec):
    selector: str = ""
    count: int = Field(ge=0)

    @field_validator("selector")
    @classmethod
    def _parses(cls, text: str) -> str:
        try:
            Selector.parse(text)
        except SelectorError as exc:
            raise ValueError(str(exc)) from None
        return text


class ClusterDocument(Spec):
    kind: Literal["Cluster"]
    name: Name
    kiln: KilnVersion | None = None
    kubernetes: Versioned | None = None
    endpoint: str | None = None  # the Kubernetes API URL; default: the first control plane's
    patches: list[TemplatePatch] = Field(default_factory=list)


class MachineSetDocument(Spec):
    """Machines by UUID or by selector and count; the set's patches and update strategy."""

    machines: list[str] = Field(default_factory=list)
    machine_selector: MachineSelector | None = None
    update_strategy: UpdateStrategy = Field(default_factory=UpdateStrategy)
    patches: list[TemplatePatch] = Field(default_factory=list)

    @field_validator("machines")
    @classmethod
    def _uuids(cls, uuids: list[str]) -> list[str]:
        bad = [uuid for uuid in uuids if not _UUID.match(uuid)]
        if bad:
            raise ValueError(f"{bad[0]!r:.70} is not a machine UUID")
        if len(set(uuids)) != len(uuids):
            raise ValueError("a machine is listed twice")
        return uuids

    @model_validator(mode="after")
    def _one_way(self) -> MachineSetDocument:
        if self.machines and self.machine_selector is not None:
            raise ValueError("give machines (UUIDs) or machineSelector, not both")
        return self

    @property
    def size(self) -> int:
        if self.machine_selector is not None:
            return self.machine_selector.count
        return len(self.machines)


class ControlPlaneDocument(MachineSetDocument):
    kind: Literal["ControlPlane"]

    @property
    def set_name(self) -> str:
        return CONTROL_PLANE_SET


class WorkersDocument(MachineSetDocument):
    kind: Literal["Workers"]
    name: Name = "workers"

    @property
    def set_name(self) -> str:
        return self.name


class InstallOptions(Spec):
    disk: str = Field(pattern=r"^/dev/\S+$")


class MachineDocument(Spec):
    kind: Literal["Machine"]
    uuid: str = Field(pattern=_UUID.pattern)
    install: InstallOptions | None = None
    patches: list[TemplatePatch] = Field(default_factory=list)


DOCUMENTS: dict[str, type[Spec]] = {
    "Cluster": ClusterDocument,
    "ControlPlane": ControlPlaneDocument,
    "Workers": WorkersDocument,
    "Machine": MachineDocument,
}


class ClusterTemplate(Spec):
    """A whole, validated template: what the hub stores as a Cluster's spec."""

    cluster: ClusterDocument
    control_plane: ControlPlaneDocument
    workers: list[WorkersDocument] = Field(default_factory=list)
    machines: list[MachineDocument] = Field(default_factory=list)

    def machine_sets(self) -> list[ControlPlaneDocument | WorkersDocument]:
        return [self.control_plane, *self.workers]

    def machine(self, uuid: str) -> MachineDocument | None:
        return next((m for m in self.machines if m.uuid == uuid), None)

    def documents(self) -> list[Spec]:
        return [self.cluster, self.control_plane, *self.workers, *self.machines]

    def fingerprint(self) -> str:
        """A short hash of the template: which one a status was made for."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]
