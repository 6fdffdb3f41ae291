"""How a machine config is applied: the modes of ``ApplyConfiguration``, shared by the node and
its clients."""

from __future__ import annotations

from enum import StrEnum

from kiln.machinery.api import machine_pb2


class ApplyMode(StrEnum):
    AUTO = "auto"  # live where possible, reboot where required
    NO_REBOOT = "no-reboot"  # refuse changes that need a reboot
    REBOOT = "reboot"  # apply, then reboot
    STAGED = "staged"  # store; takes effect at the next reboot
    TRY = "try"  # apply live; revert after a timeout unless confirmed

    def to_proto(self) -> machine_pb2.ApplyMode.ValueType:
        return _TO_PROTO[self]

    @classmethod
    def from_proto(cls, value: int) -> ApplyMode:
        """The mode of a protobuf value; ValueError for one this version does not know."""
        for mode, number in _TO_PROTO.items():
            if number == value:
                return mode
        raise ValueError(f"unknown apply mode {value}")


_TO_PROTO: dict[ApplyMode, machine_pb2.ApplyMode.ValueType] = {
    ApplyMode.AUTO: machine_pb2.AUTO,
    ApplyMode.NO_REBOOT: machine_pb2.NO_REBOOT,
    ApplyMode.REBOOT: machine_pb2.REBOOT,
    ApplyMode.STAGED: machine_pb2.STAGED,
    ApplyMode.TRY: machine_pb2.TRY,
}
