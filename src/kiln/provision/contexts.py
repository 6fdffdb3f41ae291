"""The cluster's context in the user's kilnconfig: added by create, removed by destroy.

The context is merged in under the cluster's name (``demo-1`` if another ``demo`` is there) and
becomes current; destroy removes it only while it still trusts the cluster's OS CA, and makes
the context that was current before it current again.
"""

from __future__ import annotations

from pathlib import Path

from kiln.machinery import kilnconfig
from kiln.machinery.kilnconfig import Context, Kilnconfig
from kiln.provision.record import ClusterRecord


def add_context(record: ClusterRecord, path: Path, context: Context) -> str:
    """Merge ``context`` into the kilnconfig at ``path``, record where; its name there."""
    path = path.absolute()
    config = kilnconfig.load(path, missing_ok=True)
    if record.context is not None and record.context in config.contexts:
        name = record.context  # added earlier (a retried step): refresh it
        updated = config.add(name, context, replace=True)
    else:
        ours = Kilnconfig(context=record.name, contexts={record.name: context})
        updated, renames = config.merge(ours)
        name = renames[0].new if renames else record.name
        record.previous_context = config.context
    kilnconfig.save(updated, path)
    record.kilnconfig, record.context, record.os_ca = str(path), name, context.ca
    return name


def remove_context(record: ClusterRecord) -> str:
    """Remove the cluster's context from the kilnconfig it was added to; what was done."""
    if record.kilnconfig is None or record.context is None:
        return "no kilnconfig context was added"
    path = Path(record.kilnconfig)
    config = kilnconfig.load(path, missing_ok=True)
    found = config.contexts.get(record.context)
    if found is None:
        return f"context {record.context} is not in {path} any more"
    if found.ca != record.os_ca:
        return f"context {record.context} in {path} belongs to another cluster now; kept it"
    updated = config.remove(record.context)
    previous = record.previous_context
    if updated.context is None and previous is not None and previous in updated.contexts:
        updated = updated.use(previous)
    kilnconfig.save(updated, path)
    return f"removed context {record.context} from {path}"
