"""Kiln: an immutable, API-managed OS for Kubernetes (Kiln OS) and its fleet hub (Kiln Hub)."""

# The one place the version is written; the package metadata reads it from here (pyproject),
# so nothing pays for importlib.metadata at start-up.
__version__ = "0.1.0"

__all__ = ["__version__"]
