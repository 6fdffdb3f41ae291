"""How a node daemon was started: its mode, state directory, API address, trust port and extra
services.

The trust port (:data:`TRUST_PORT`) is where control-plane nodes sign workers' API certificates
(on the API's host), and where a worker asks for its own (on the host of its config's
``cluster.controlPlane.endpoint``): one number for the whole cluster.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from kiln.machined.address import WILDCARDS, bind_address, parse_api_addr
from kiln.machined.errors import InvalidRequestError
from kiln.machined.services import RestartPolicy, ServiceSpec
from kiln.machinery.endpoints import API_PORT
from kiln.machinery.mode import Mode

DEFAULT_API_ADDR = f"0.0.0.0:{API_PORT}"
TRUST_PORT = 50001
__all__ = ["TRUST_PORT", "WILDCARDS", "NodeOptions", "parse_api_addr", "parse_extra_service"]


@dataclass(frozen=True)
class NodeOptions:
    mode: Mode
    state_dir: Path
    api_host: str = "0.0.0.0"
    api_port: int = API_PORT
    extra_services: tuple[ServiceSpec, ...] = ()
    trust_port: int = TRUST_PORT
    hub_join: Path | None = None  # a HubJoinConfig file: join that hub
    config_dir: Path | None = None  # where the config is kept, if not in state_dir (STATE)

    @property
    def configs(self) -> Path:
        return self.config_dir or self.state_dir

    @property
    def api_address(self) -> str:
        """The address the server binds, IPv6 in brackets."""
        return self._bind(self.api_port)

    @property
    def trust_address(self) -> str:
        """Where a control-plane node serves the trust API: the API's host, the trust port."""
        return self._bind(self.trust_port)

    def _bind(self, port: int) -> str:
        return bind_address(self.api_host, port)

    @property
    def api_host_is_specific(self) -> bool:
        return self.api_host not in WILDCARDS


def parse_extra_service(text: str) -> ServiceSpec:
    """``NAME=COMMAND ARGS...``: a program the node supervises once it runs (tests, dev)."""
    name, equals, command = text.partition("=")
    argv = shlex.split(command)
    if not equals or not name or not argv:
        raise InvalidRequestError(f"--extra-service {text!r}: expected NAME=COMMAND [ARGS...]")
    return ServiceSpec(name, argv, restart=RestartPolicy.ON_FAILURE, stop_grace=5.0)
