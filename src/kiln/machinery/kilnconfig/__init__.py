"""The client's kilnconfig file: contexts with endpoints, nodes and client credentials.

Errors are :class:`kiln.machinery.errors.KilnconfigError`.
"""

from kiln.machinery.kilnconfig.addresses import API_PORT, split_endpoint
from kiln.machinery.kilnconfig.credentials import issue_context
from kiln.machinery.kilnconfig.info import ContextInfo, describe, describe_all
from kiln.machinery.kilnconfig.model import Context, HubRoute, Kilnconfig, Rename
from kiln.machinery.kilnconfig.store import ENV_VAR, default_path, dump, load, parse, save

__all__ = [
    "API_PORT",
    "ENV_VAR",
    "Context",
    "ContextInfo",
    "HubRoute",
    "Kilnconfig",
    "Rename",
    "default_path",
    "describe",
    "describe_all",
    "dump",
    "issue_context",
    "load",
    "parse",
    "save",
    "split_endpoint",
]
