"""The service supervisor of the node daemon: runs etcd, kubelet and the other programs of a
node, in dependency order, restarting them by policy, watching their health, keeping their
output in size-capped logs on disk.

Internals import modules (``from kiln.machined.services import runner``); everything else uses
the names below. Errors are drawn in :mod:`kiln.machined.services.errors`.

::

    async with Supervisor(state_dir, listener) as supervisor:
        supervisor.load(
            ServiceSpec("etcd", ["etcd", "--config-file", "/system/etc/etcd.yaml"],
                        conditions=[files_exist("/system/secrets/etcd/server.crt")],
                        restart=RestartPolicy.ALWAYS,
                        health=http_get_ok("https://127.0.0.1:2379/health", context)),
            ServiceSpec("kube-apiserver", [...], depends_on=["etcd"]),
        )
        await supervisor.start("etcd")
        await supervisor.start("kube-apiserver")
        await supervisor.wait_for("kube-apiserver", ServiceState.RUNNING, timeout=60)
        lines = supervisor.logs("etcd").tail(100)
"""

from kiln.machined.services.clock import Clock, SystemClock
from kiln.machined.services.conditions import Condition, files_exist, port_free
from kiln.machined.services.errors import (
    ServiceBusyError,
    ServiceError,
    ServiceNotFoundError,
    ServiceSpecError,
    ServiceTimeoutError,
)
from kiln.machined.services.health import HealthCheck, HealthResult, http_get_ok, tcp_port_open
from kiln.machined.services.log import ServiceLog
from kiln.machined.services.spec import Backoff, RestartPolicy, ServiceSpec
from kiln.machined.services.state import (
    ServiceEvent,
    ServiceListener,
    ServiceState,
    ServiceStatus,
)
from kiln.machined.services.supervisor import Supervisor

__all__ = [
    "Backoff",
    "Clock",
    "Condition",
    "HealthCheck",
    "HealthResult",
    "RestartPolicy",
    "ServiceBusyError",
    "ServiceError",
    "ServiceEvent",
    "ServiceListener",
    "ServiceLog",
    "ServiceNotFoundError",
    "ServiceSpec",
    "ServiceSpecError",
    "ServiceState",
    "ServiceStatus",
    "ServiceTimeoutError",
    "Supervisor",
    "SystemClock",
    "files_exist",
    "http_get_ok",
    "port_free",
    "tcp_port_open",
]
