"""Time in the hub: timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def now() -> datetime:
    return datetime.now(UTC)


def expiry(seconds: int) -> datetime | None:
    """When something made now for ``seconds`` expires (None: never)."""
    return now() + timedelta(seconds=seconds) if seconds > 0 else None


def expired(when: datetime | None) -> bool:
    return when is not None and when <= now()
