"""The machine's link waits a jittered, capped, exponentially growing time between attempts."""

from __future__ import annotations

from pathlib import Path

from kiln.machined.hublink import HubLink
from kiln.machinery.api import hublink_pb2 as pb

TOKEN = "ab12cd34.secret." + "A" * 43


async def facts() -> tuple[str, pb.Facts]:
    return "00000000-0000-4000-8000-000000000001", pb.Facts()


def test_backoff_grows_is_jittered_and_capped(tmp_path: Path) -> None:
    link = HubLink(
        "https://hub:8443", TOKEN, tmp_path, facts, api_address=("127.0.0.1", 1), max_backoff=8
    )
    for failures, cap in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0), (1000, 8.0)):
        waits = [link.delay_after(failures) for _ in range(200)]
        assert all(cap / 2 <= wait <= cap for wait in waits), (failures, min(waits), max(waits))
        assert len(set(waits)) > 100  # jittered: machines do not come back in lockstep
