"""The cluster state file ``<state dir>/cluster.json``: what a create made, for show and destroy.

Written atomically after every change, so a create that fails or is interrupted at any point
leaves a record that ``destroy`` can act on. Layout of a cluster's state directory::

    cluster.json            this record
    secrets.yaml            the cluster's secrets bundle (0600)
    <node>/config.yaml      the machine config applied to the node (0600)
    <node>/daemon.log       the node daemon's stdout and stderr
    <node>/state/           the node daemon's --state (its supervisor's pid records: pids/)
    <node>/console.log      a VM's serial console (qemu provisioner; its process is QEMU)
    network.log             the DHCP server and port forwarder of a VM cluster
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kiln.machinery.kilnconfig import API_PORT
from kiln.machinery.privatefile import write_private_file
from kiln.provision.errors import ClusterNotFoundError, ProvisionError
from kiln.provision.request import NodeRole

RECORD_FILE = "cluster.json"
SECRETS_FILE = "secrets.yaml"


class ProcessRecord(BaseModel):
    """A detached process a cluster started, found again by pid, command line and start."""

    model_config = ConfigDict(extra="forbid")

    pid: int | None = None
    argv: list[str] = Field(default_factory=list)
    start_time: int | None = None  # clock ticks after boot, to tell a reused pid apart


class NodeRecord(BaseModel):
    """One node: where its API listens and, once started, its daemon's process (for a VM:
    QEMU's). A VM's API is reached at ``address`` through the cluster's port forwarder; the
    nodes reach each other at ``cluster_address`` on the cluster's private network."""

    model_config = ConfigDict(extra="forbid")

    name: str
    role: NodeRole
    address: str
    cluster_address: str | None = None
    api_port: int = API_PORT
    pid: int | None = None
    argv: list[str] = Field(default_factory=list)
    start_time: int | None = None  # clock ticks after boot, to tell a reused pid apart

    @property
    def endpoint(self) -> str:
        return self.address if self.api_port == API_PORT else f"{self.address}:{self.api_port}"

    @property
    def peer_name(self) -> str:
        """How other nodes (and calls forwarded by an endpoint) name this one."""
        return self.cluster_address or self.endpoint


class ClusterRecord(BaseModel):
    """A cluster made by a provisioner. ``complete`` is set once create finished."""

    model_config = ConfigDict(extra="forbid")

    name: str
    provisioner: Literal["container", "qemu"] = "container"
    state_dir: str
    created: datetime = Field(default_factory=lambda: datetime.now(UTC))
    complete: bool = False
    nodes: list[NodeRecord] = Field(default_factory=list)
    kilnconfig: str | None = None  # the file the context was added to
    context: str | None = None  # the context's name in it
    previous_context: str | None = None  # the current context before ours, restored on destroy
    os_ca: str | None = None  # the context's CA (public): destroy removes only a context with it
    network: list[ProcessRecord] = Field(default_factory=list)  # a VM cluster's DHCP, forwarder

    @property
    def directory(self) -> Path:
        return Path(self.state_dir)

    def node(self, name: str) -> NodeRecord:
        for node in self.nodes:
            if node.name == name:
                return node
        raise ProvisionError(f"cluster {self.name}: no node named {name!r}")

    def of_role(self, role: NodeRole) -> list[NodeRecord]:
        return [node for node in self.nodes if node.role is role]

    def node_dir(self, node: NodeRecord) -> Path:
        return self.directory / node.name

    def save(self) -> None:
        """Write ``cluster.json`` atomically."""
        write_private_file(self.directory / RECORD_FILE, self.model_dump_json(indent=2) + "\n")


def record_path(state_dir: Path) -> Path:
    return state_dir / RECORD_FILE


def load_record(state_dir: Path) -> ClusterRecord:
    """The record in ``state_dir``; ClusterNotFoundError if there is none."""
    path = record_path(state_dir)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ClusterNotFoundError(f"no cluster here: {path} does not exist") from None
    try:
        record = ClusterRecord.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ProvisionError(f"{path}: not a cluster record: {first}") from None
    if record.directory != state_dir:  # moved: trust where it is now
        record = record.model_copy(update={"state_dir": str(state_dir)})
    return record
