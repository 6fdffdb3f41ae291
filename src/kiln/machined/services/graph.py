"""The dependency graph of services: cycles are refused, stops go dependents first.

Graphs map a service name to the names it depends on. Names a service depends on that are not
in the graph (not loaded yet) are allowed; they simply keep the service WAITING.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Graph = Mapping[str, Sequence[str]]


def find_cycle(graph: Graph) -> list[str] | None:
    """A dependency cycle as a path that ends where it starts (``[a, b, a]``), or None."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in on_path:
            return [*path[path.index(name) :], name]
        if name in done or name not in graph:
            return None
        path.append(name)
        on_path.add(name)
        for dependency in graph[name]:
            if (cycle := visit(dependency)) is not None:
                return cycle
        path.pop()
        on_path.remove(name)
        done.add(name)
        return None

    for name in sorted(graph):
        if (cycle := visit(name)) is not None:
            return cycle
    return None


def stop_waves(graph: Graph) -> list[list[str]]:
    """Every service of an acyclic ``graph`` in waves to stop one after the other: a service
    comes after every service that depends on it. Names within a wave are sorted."""
    dependents: dict[str, set[str]] = {name: set() for name in graph}
    for name, dependencies in graph.items():
        for dependency in dependencies:
            if dependency in dependents:
                dependents[dependency].add(name)
    waves: list[list[str]] = []
    remaining = set(graph)
    while remaining:
        wave = sorted(name for name in remaining if not dependents[name] & remaining)
        if not wave:
            raise ValueError(f"dependency cycle among {sorted(remaining)}")
        waves.append(wave)
        remaining.difference_update(wave)
    return waves
