"""Kernel modules load after the modules they depend on."""

from __future__ import annotations

import pytest

from kiln.image.errors import ImageError
from kiln.image.modules import Module, load_order


def _index(**deps: str) -> dict[str, Module]:
    return {
        name: Module(name, f"kernel/{name}.ko", tuple(d for d in spec.split(",") if d))
        for name, spec in deps.items()
    }


def test_dependencies_come_first_and_once() -> None:
    index = _index(
        virtio_net="virtio_ring,virtio,net_failover",
        net_failover="failover",
        failover="",
        virtio="",
        virtio_ring="",
        virtio_blk="virtio_ring,virtio",
    )
    order = [m.name for m in load_order(["virtio-net", "virtio_blk"], index)]
    assert order == [
        "virtio_ring",
        "virtio",
        "failover",
        "net_failover",
        "virtio_net",
        "virtio_blk",
    ]
    for position, name in enumerate(order):
        assert all(order.index(dep) < position for dep in index[name].depends)


def test_a_missing_module_names_who_needs_it() -> None:
    with pytest.raises(
        ImageError, match="'virtio' \\(needed by virtio_blk\\) is not in the kernel"
    ):
        load_order(["virtio_blk"], _index(virtio_blk="virtio"))


def test_a_cycle_is_reported() -> None:
    with pytest.raises(ImageError, match="cycle: a -> b -> a"):
        load_order(["a"], _index(a="b", b="a"))
