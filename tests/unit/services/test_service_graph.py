"""Dependency cycles and stop order."""

from __future__ import annotations

import pytest

from kiln.machined.services.graph import find_cycle, stop_waves


def test_no_cycle() -> None:
    assert find_cycle({"a": [], "b": ["a"], "c": ["a", "b"]}) is None


def test_unknown_dependencies_are_not_cycles() -> None:
    assert find_cycle({"b": ["ghost"]}) is None


def test_cycle_is_reported_as_a_path() -> None:
    assert find_cycle({"a": ["c"], "b": ["a"], "c": ["b"]}) == ["a", "c", "b", "a"]
    assert find_cycle({"x": [], "a": ["a"]}) == ["a", "a"]


def test_stop_waves_put_dependents_first() -> None:
    graph = {"etcd": [], "apiserver": ["etcd"], "scheduler": ["apiserver"], "kubelet": []}
    assert stop_waves(graph) == [["kubelet", "scheduler"], ["apiserver"], ["etcd"]]


def test_stop_waves_ignore_unknown_dependencies() -> None:
    assert stop_waves({"b": ["ghost"]}) == [["b"]]


def test_stop_waves_refuse_cycles() -> None:
    with pytest.raises(ValueError, match="cycle"):
        stop_waves({"a": ["b"], "b": ["a"]})
