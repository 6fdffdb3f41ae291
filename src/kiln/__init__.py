"""Kiln: an immutable, API-managed OS for Kubernetes (Kiln OS) and its fleet hub (Kiln Hub)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kiln")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
