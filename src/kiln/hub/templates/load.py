"""Read and validate a cluster template: every problem is found and reported at once, each
naming its document (number and kind) and the path inside it; nothing is half read.

::

    template = load_template(Path("cluster.yaml").read_bytes(), "cluster.yaml", base=Path("."))

The client reads ``file:`` patches (relative to ``base``) into ``inline`` ones; the hub, which
gets the template without its files, refuses a ``file:`` patch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kiln.errors import KilnError
from kiln.hub.errors import TemplateError
from kiln.hub.templates.configs import MachinePlace, base_config, patches_of
from kiln.hub.templates.model import (
    DOCUMENTS,
    ClusterDocument,
    ClusterTemplate,
    ControlPlaneDocument,
    MachineDocument,
    WorkersDocument,
)
from kiln.machinery.config import apply_patches
from kiln.machinery.config.diagnostics import validation_problems
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.config.model import MachineType
from kiln.machinery.config.yamlparse import MAX_INPUT_BYTES, document_label, parse_yaml
from kiln.machinery.resources.spec import Spec
from kiln.machinery.secrets import SecretsBundle

SAMPLE_ADDRESS = "192.0.2.1"  # a documentation address: checks patches against a sample
FileReader = Callable[[str], Any]


def load_template(data: str | bytes, source: str, *, base: Path | None = None) -> ClusterTemplate:
    """The template in ``data``; TemplateError listing every problem. With ``base`` (the
    client), ``file:`` patches are read from there; without (the hub), they are refused."""
    stream = parse_yaml(data)
    problems = [str(problem) for problem in stream.problems]
    parsed: list[tuple[str, Spec]] = []
    kinds: set[str] = set()  # seen, valid or not: a missing document is not a broken one
    for document in stream.documents:
        label = document_label(document.number, document.value)
        value = document.value
        if not isinstance(value, dict):
            problems.append(f"{label}: expected a mapping with a kind")
            continue
        kind = value.get("kind")
        model = DOCUMENTS.get(kind) if isinstance(kind, str) else None
        if model is None:
            known = ", ".join(DOCUMENTS)
            problems.append(f"{label}: kind: expected one of {known}, got {kind!r:.40}")
            continue
        kinds.add(str(kind))
        value = _inline_files(value, label, base, problems)
        try:
            parsed.append((label, model.model_validate(value)))
        except ValidationError as exc:
            problems += [str(problem) for problem in validation_problems(exc, label)]
    template = _assemble(parsed, kinds, problems) if stream.complete else None
    if template is not None:
        problems += _config_problems(template)
    if problems or template is None:
        raise TemplateError(source, problems or ["the template is empty"])
    return template


def _inline_files(
    value: dict[str, Any], label: str, base: Path | None, problems: list[str]
) -> dict[str, Any]:
    patches = value.get("patches")
    if not isinstance(patches, list):
        return value
    inlined: list[Any] = []
    for index, patch in enumerate(patches):
        name = patch.get("file") if isinstance(patch, dict) else None
        if not isinstance(name, str) or patch.get("inline") is not None:
            inlined.append(patch)
            continue
        where = f"{label}: patches[{index}].file"
        if base is None:
            problems.append(f"{where}: the client reads patch files; send them inline")
            continue
        try:
            data = (base / name).read_bytes()[: MAX_INPUT_BYTES + 1]
        except OSError as exc:
            problems.append(f"{where}: {base / name}: {exc.strerror or exc}")
            continue
        content = parse_yaml(data)
        if content.problems or len(content.documents) != 1:
            first = content.problems[0] if content.problems else "expected one YAML document"
            problems.append(f"{where}: {base / name}: {first}")
            continue
        inlined.append({"name": patch.get("name") or name, "inline": content.documents[0].value})
    return {**value, "patches": inlined}


def _assemble(
    parsed: list[tuple[str, Spec]], kinds: set[str], problems: list[str]
) -> ClusterTemplate | None:
    clusters = [(label, d) for label, d in parsed if isinstance(d, ClusterDocument)]
    planes = [(label, d) for label, d in parsed if isinstance(d, ControlPlaneDocument)]
    workers = [(label, d) for label, d in parsed if isinstance(d, WorkersDocument)]
    machines = [(label, d) for label, d in parsed if isinstance(d, MachineDocument)]
    for kind, found in (("Cluster", clusters), ("ControlPlane", planes)):
        if kind not in kinds:
            problems.append(f"template: a {kind} document is missing")
        for label, _ in found[1:]:
            problems.append(f"{label}: a second {kind} document (one per template)")
    for label, plane in planes:
        if plane.size < 1:
            problems.append(f"{label}: a cluster needs at least one control-plane machine")
    names = Counter(d.name for _, d in workers)
    for label, document in workers:
        if names[document.name] > 1:
            problems.append(f"{label}: name: {document.name!r} names another Workers set too")
    seen: dict[str, str] = {}
    for label, machine_set in [*planes, *workers]:
        for index, uuid in enumerate(machine_set.machines):
            if uuid in seen:
                problems.append(f"{label}: machines[{index}]: {uuid} is in {seen[uuid]} too")
            seen[uuid] = label
    uuids = Counter(d.uuid for _, d in machines)
    for label, machine in machines:
        if uuids[machine.uuid] > 1:
            problems.append(f"{label}: uuid: {machine.uuid} has another Machine document too")
    if not clusters or not planes:
        return None
    return ClusterTemplate(
        cluster=clusters[0][1],
        control_plane=planes[0][1],
        workers=[d for _, d in workers],
        machines=[d for _, d in machines],
    )


def _config_problems(template: ClusterTemplate) -> list[str]:
    """Generate a sample config for every machine set and Machine document, to find patches
    that do not apply and values the machine config refuses (each problem once)."""
    secrets = SecretsBundle.generate()
    version = template.cluster.kubernetes.version if template.cluster.kubernetes else None
    endpoint = template.cluster.endpoint or f"https://{SAMPLE_ADDRESS}:6443"
    problems: dict[str, str] = {}
    try:
        generate_configs(template.cluster.name, endpoint, secrets, kubernetes_version=version)
    except KilnError as err:  # the version or the endpoint: the patches are checked without
        for line in err.lines():
            problems[line] = f"Cluster {template.cluster.name}: {line}"
        cluster = template.cluster.model_copy(update={"kubernetes": None, "endpoint": None})
        template = template.model_copy(update={"cluster": cluster})
        endpoint = f"https://{SAMPLE_ADDRESS}:6443"
    places: list[tuple[str, MachinePlace]] = []
    for machine_set in template.machine_sets():
        sample = next((u for u in machine_set.machines if template.machine(u) is None), "sample")
        where = f"{machine_set.kind} {machine_set.set_name}"
        places.append((where, _place(sample, machine_set)))
    for machine in template.machines:
        machine_set = next(
            (s for s in template.machine_sets() if machine.uuid in s.machines),
            template.workers[0] if template.workers else template.control_plane,
        )
        places.append((f"Machine {machine.uuid}", _place(machine.uuid, machine_set)))
    for where, place in places:
        try:
            base = base_config(template, secrets, endpoint, place)
            patches = patches_of(template, place)
        except KilnError as err:
            _add(problems, where, err)
            continue
        config = base
        for patch in patches:  # a patch that fails is skipped: the others are still checked
            try:
                config = apply_patches(config, [patch])
            except KilnError as err:
                _add(problems, where, err)
    return list(problems.values())


def _add(problems: dict[str, str], where: str, err: KilnError) -> None:
    for line in err.lines():
        problems.setdefault(line, f"{where}: {line}")


def _place(uuid: str, machine_set: ControlPlaneDocument | WorkersDocument) -> MachinePlace:
    return MachinePlace(uuid, machine_set.set_name, _type_of(machine_set), SAMPLE_ADDRESS)


def _type_of(machine_set: ControlPlaneDocument | WorkersDocument) -> MachineType:
    if isinstance(machine_set, ControlPlaneDocument):
        return MachineType.CONTROLPLANE
    return MachineType.WORKER
