"""Errors of reading an image to upgrade to."""

from __future__ import annotations

from kiln.machinery.errors import MachineryError


class ImageSourceError(MachineryError):
    """An image to upgrade to cannot be found or read."""
