"""Errors of the image builder::

KilnError
└── ImageError              building, locking or verifying an image failed
    ├── LockError           the package lock is missing, malformed or cannot be resolved
    ├── PackageError        a downloaded package does not match its lock entry
    └── VerifyError         an image's manifest, signature or artifact does not check out
"""

from __future__ import annotations

from kiln.errors import KilnError


class ImageError(KilnError):
    """Building, locking or verifying an image failed."""


class LockError(ImageError):
    """The package lock is missing, malformed or cannot be resolved."""


class PackageError(ImageError):
    """A downloaded package does not match its lock entry."""


class VerifyError(ImageError):
    """An image's manifest, signature or an artifact does not check out."""
