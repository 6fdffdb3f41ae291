"""Whether and for how long a node drains itself before it goes down (reboot, shutdown, OS
upgrade, graceful reset): shared by the node and its clients."""

from __future__ import annotations

import math
from dataclasses import dataclass

from kiln.machinery.api import machine_pb2

DEFAULT_TIMEOUT = 300.0
ANSWER_MARGIN = 60.0
"""A client waits this much longer than the drain may take for the node's answer."""


@dataclass(frozen=True)
class DrainOptions:
    skip: bool = False
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if not 0 < self.timeout < math.inf:
            raise ValueError(f"a drain timeout must be positive and finite, not {self.timeout:g}s")

    def to_proto(self) -> machine_pb2.DrainOptions:
        return machine_pb2.DrainOptions(skip=self.skip, timeout_seconds=self.timeout)

    @classmethod
    def from_proto(cls, options: machine_pb2.DrainOptions) -> DrainOptions:
        """The options of a request (no timeout: the default); ValueError for a negative one."""
        return cls(options.skip, options.timeout_seconds or DEFAULT_TIMEOUT)

    @property
    def answer_within(self) -> float:
        """How long a client waits for the answer of a call that drains."""
        return (0.0 if self.skip else self.timeout) + ANSWER_MARGIN
