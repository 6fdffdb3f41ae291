"""The machine API client, shared by ``kilnctl``, the hub and tests.

::

    from kiln.machinery import client

    target = client.resolve(context, endpoints=["127.0.0.2:50000"])
    async with client.Client(target) as api:
        print(await api.version())

Every failure is a :class:`ClientError` carrying the server's message and the gRPC status name;
:class:`NodeErrors` when some of the nodes a forwarded call named failed.
"""

from kiln.machinery.client.client import DEFAULT_TIMEOUT, Client, Dial, NodeResource, WatchEvent
from kiln.machinery.client.errors import ClientError, NodeErrors
from kiln.machinery.client.target import MutualTLS, Target, resolve

__all__ = [
    "DEFAULT_TIMEOUT",
    "Client",
    "ClientError",
    "Dial",
    "MutualTLS",
    "NodeErrors",
    "NodeResource",
    "Target",
    "WatchEvent",
    "resolve",
]
