"""Endpoint and node addresses in a kilnconfig: see :mod:`kiln.machinery.endpoints`.

The definitions live outside this package so that the node daemon can use them without
importing the kilnconfig models.
"""

from kiln.machinery.endpoints import API_PORT, check_endpoint, check_host, split_endpoint

__all__ = ["API_PORT", "check_endpoint", "check_host", "split_endpoint"]
