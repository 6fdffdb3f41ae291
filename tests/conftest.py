"""Fixtures every tier shares: one real PostgreSQL server for the session (Debian's
``postgresql``), started in a temporary directory the first time a test asks for it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from kiln.resources.pgserver import PostgresServer, server_binaries


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One server for the session, run from a loop in a thread of its own: tests each have
    their own loop, and the first to ask may be inside it already."""
    if server_binaries() is None:
        pytest.skip("PostgreSQL server binaries are missing: apt-get install postgresql")
    server = PostgresServer(tmp_path_factory.mktemp("postgres"), durable=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="postgres server", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result()
        yield server
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


_TIER_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Adds each test's set-up, call and tear-down time to its tier (tests/<tier>/...)."""
    tier = report.nodeid.split("/", 2)[1] if report.nodeid.startswith("tests/") else "other"
    _TIER_SECONDS[tier] = _TIER_SECONDS.get(tier, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _TIER_SECONDS:
        spent = ", ".join(
            f"{tier} {seconds / 60:.1f} min" for tier, seconds in _TIER_SECONDS.items()
        )
        terminalreporter.write_line(f"time per tier: {spent}")
