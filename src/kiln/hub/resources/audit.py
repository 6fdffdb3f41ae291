"""AuditEntry: one mutating call (or an attempt): who, what, when and the result."""

from __future__ import annotations

from datetime import datetime

from kiln.hub.resources import namespaces
from kiln.machinery.resources.spec import Spec
from kiln.resources import PrintColumn, definition


@definition(
    "AuditEntry",
    namespace=namespaces.AUDIT,
    aliases=("audit",),
    print_columns=(
        PrintColumn("Time", "time"),
        PrintColumn("Who", "who"),
        PrintColumn("Method", "method"),
        PrintColumn("Target", "target"),
        PrintColumn("Result", "result"),
    ),
    description="A mutating call made to the hub, or refused by it.",
)
class AuditEntrySpec(Spec):
    time: datetime
    who: str  # "key:<id> (<role>)", "machine:<uuid>", "anonymous"
    method: str
    target: str = ""  # what the call was about (a key, token or machine id)
    result: str  # "OK" or the gRPC status name
    detail: str = ""  # the error message of a failed call
