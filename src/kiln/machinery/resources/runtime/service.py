"""Service: the state of one supervised service of the node (id = the service name)."""

from __future__ import annotations

from datetime import datetime

from kiln.machinery.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, Resource, definition

TYPE = "Service"


@definition(
    TYPE,
    namespace=namespaces.RUNTIME,
    aliases=("services", "svc"),
    print_columns=(
        PrintColumn("State", "state"),
        PrintColumn("Health", "health"),
        PrintColumn("PID", "pid"),
        PrintColumn("Restarts", "restarts"),
        PrintColumn("Message", "message"),
    ),
    description="A supervised service: its state, health and process.",
)
class ServiceStatusSpec(Spec):
    state: str
    health: str = ""  # "", "healthy", "unhealthy"
    message: str = ""
    pid: int | None = None
    restarts: int = 0
    exit_code: int | None = None
    since: datetime | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"


def new(name: str, spec: ServiceStatusSpec) -> Resource[ServiceStatusSpec]:
    return Resource.new(name, spec)
