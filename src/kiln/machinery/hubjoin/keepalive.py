"""How a machine's link and the hub notice that the other side is gone: HTTP/2 pings.

Both ends ping every :data:`INTERVAL` seconds and drop the connection when a ping is not
answered within :data:`TIMEOUT` seconds: a hub that stops answering (a network cut, a hung
process) is left and dialled again, and a machine powered off is marked disconnected. gRPC's
transport sends and answers the pings, so an idle link costs neither side any Python work
or timer.
"""

from __future__ import annotations

INTERVAL = 30.0
TIMEOUT = 20.0
#: The shortest ping interval the hub accepts from a machine. gRPC servers otherwise refuse
#: pings more often than every five minutes on a stream that carries no data.
MIN_ACCEPTED = 0.1

GrpcOptions = list[tuple[str, int]]


def _pinging(interval: float, timeout: float) -> GrpcOptions:
    return [
        ("grpc.keepalive_time_ms", round(interval * 1000)),
        ("grpc.keepalive_timeout_ms", round(timeout * 1000)),
        # a keepalive ping sent while another ping is out waits on that one's timeout
        ("grpc.http2.ping_timeout_ms", round(timeout * 1000)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]


def machine_options(interval: float = INTERVAL) -> GrpcOptions:
    """Channel options of a machine's connection to the hub's machine port: a ping every
    ``interval`` seconds, answered within that long or :data:`TIMEOUT`, whichever is less."""
    return _pinging(interval, min(interval, TIMEOUT))


def hub_options(interval: float = INTERVAL) -> GrpcOptions:
    """Server options of the hub's machine port: it pings its machines every ``interval``
    seconds (answers due as for :func:`machine_options`) and accepts their pings down to
    :data:`MIN_ACCEPTED` apart."""
    return [
        *_pinging(interval, min(interval, TIMEOUT)),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", round(MIN_ACCEPTED * 1000)),
        ("grpc.http2.max_ping_strikes", 0),
    ]
