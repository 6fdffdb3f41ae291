"""A worker runs no etcd member: Bootstrap and the etcd methods are refused there."""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet import Fleet, started

from kiln.machinery.client import ClientError

pytestmark = pytest.mark.integration


async def test_a_worker_refuses_bootstrap_and_the_etcd_calls(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path)
    controlplane, worker = fleet.node(1, "cp"), fleet.node(3, "worker")
    async with started(controlplane, worker):
        await fleet.join(controlplane)
        await fleet.join(worker, worker=True)
        async with fleet.client(worker) as api:
            with pytest.raises(ClientError) as bootstrap:
                await api.bootstrap()
            with pytest.raises(ClientError) as listing:
                await api.etcd_members()
            (services,) = await api.service_list()
    assert bootstrap.value.code == "FAILED_PRECONDITION"
    assert "only control-plane nodes" in str(bootstrap.value)
    assert listing.value.code == "FAILED_PRECONDITION"
    assert "etcd is not running on this node" in str(listing.value)
    assert "etcd" not in [service.id for service in services.services]
