"""What the create steps ask of one node over its API: maintenance mode, applying a config,
the machine's stage. Client errors that mean "not yet" become StepRetry; a daemon that died
fails the step with the end of its log."""

from __future__ import annotations

from kiln.machinery import client
from kiln.machinery.client import answers
from kiln.machinery.kilnconfig import Context
from kiln.machinery.resources import MachineStatusSpec, Stage
from kiln.provision import daemons
from kiln.provision.errors import StepError, StepRetry
from kiln.provision.record import ClusterRecord, NodeRecord

CALL_TIMEOUT = 10.0
POLL = 0.2


def insecure(node: NodeRecord) -> client.Client:
    target = client.resolve(None, endpoints=[node.endpoint], insecure=True)
    return client.Client(target, timeout=CALL_TIMEOUT)


LAUNCHER_LOG = "qemu.log"


def secure(node: NodeRecord, context: Context) -> client.Client:
    target = client.resolve(context, endpoints=[node.endpoint], nodes=[node.endpoint])
    return client.Client(target, timeout=CALL_TIMEOUT)


def require_running(step: str, record: ClusterRecord, node: NodeRecord) -> None:
    """StepError with the end of its log if the node's daemon is gone."""
    if daemons.is_running(node):
        return
    tail = daemons.log_tail(record, node)
    log = daemons.log_path(record, node)
    message = f"the node daemon (pid {node.pid}) is not running; the end of {log}:"
    launcher = record.node_dir(node) / LAUNCHER_LOG  # a VM's QEMU says why it stopped here
    said = (
        launcher.read_text(errors="replace").strip().splitlines()[-5:] if launcher.is_file() else []
    )
    lines = [message, *tail, *([f"{launcher}:", *said] if said else [])]
    raise StepError(step, "\n".join(lines), node=node.name)


async def in_maintenance(step: str, record: ClusterRecord, node: NodeRecord) -> bool:
    """Whether the node is in maintenance mode (False: it is configured already); StepRetry
    while its API does not answer."""
    require_running(step, record, node)
    try:
        async with insecure(node) as api:
            versions = await api.version()
    except client.ClientError as err:
        if answers.configured_already(err):
            return False
        raise StepRetry(f"API not answering yet ({err.message})", POLL) from None
    return any(version.maintenance for version in versions)


async def apply_config(step: str, record: ClusterRecord, node: NodeRecord, data: bytes) -> str:
    """Apply ``data`` to a node in maintenance mode; what the node said it would do."""
    if not await in_maintenance(step, record, node):
        return "configured already"
    try:
        async with insecure(node) as api:
            replies = await api.apply_configuration(data)
    except client.ClientError as err:
        if err.code in answers.UNREACHABLE:
            raise StepRetry(f"API not answering ({err.message})", POLL) from None
        raise StepError(
            step, f"the node refused its config: {err.message}", node=node.name
        ) from None
    details = [reply.mode_details for reply in replies if reply.mode_details]
    return details[0] if details else "applied"


async def wait_running(step: str, record: ClusterRecord, node: NodeRecord, context: Context) -> str:
    """StepRetry until the node answers over mutual TLS with its machine running."""
    require_running(step, record, node)
    try:
        async with secure(node, context) as api:
            (found,) = await api.get("machinestatus")
    except client.ClientError as err:
        if not err.code:  # not a call that failed: nothing to wait for
            raise StepError(step, err.message, node=node.name) from None
        raise StepRetry(f"not answering over mutual TLS yet ({err.message})", POLL) from None
    status = found.resource.spec
    assert isinstance(status, MachineStatusSpec)
    if status.stage is not Stage.RUNNING:
        raise StepRetry(f"machine {status.stage.value}", POLL)
    return "running" + ("" if status.ready else f" ({'; '.join(status.unmet_conditions)})")


async def bootstrap(step: str, record: ClusterRecord, node: NodeRecord, context: Context) -> str:
    """Create the etcd cluster on ``node``; done too when the node says it was done already."""
    require_running(step, record, node)
    try:
        async with secure(node, context) as api:
            await api.bootstrap()
    except client.ClientError as err:
        if answers.bootstrapped_already(err):
            return "bootstrapped already"
        if answers.not_yet(err):
            raise StepRetry(err.message, 1.0) from None
        raise StepError(step, err.message, node=node.name) from None
    return f"etcd cluster created on {node.name}"
