"""State conformance: reads, writes and their rules, identical on every backend."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC

import pytest
from resource_kinds import DoubledSpec, ThingSpec, UnregisteredSpec, thing

from kiln.resources import (
    AlreadyExistsError,
    FinalizersPendingError,
    InvalidResourceError,
    Kind,
    Metadata,
    NotFoundError,
    OwnerConflictError,
    Phase,
    PhaseConflictError,
    Pointer,
    Resource,
    State,
    StateClosedError,
    UnknownTypeError,
    VersionConflictError,
)

THINGS = Kind.of(ThingSpec)


async def test_create_stores_a_copy_with_version_one_and_timestamps(state: State) -> None:
    draft = thing("a", 1, role="cp")
    created = await state.create(draft, owner="ctrl")

    m = created.metadata
    assert (m.namespace, m.type, m.id) == ("default", "Thing", "a")
    assert (m.version, m.owner, m.phase, m.finalizers) == (1, "ctrl", Phase.RUNNING, ())
    assert m.created.tzinfo is UTC and m.created == m.updated
    assert created.spec == ThingSpec(value=1)

    # Changing the draft or any handed-out copy changes nothing stored.
    draft.spec.value = 99
    draft.metadata.labels["role"] = "changed"
    created.spec.tags.append("x")
    got = await state.get(draft.pointer)
    got.spec.value = 42
    again = await state.get(draft.pointer)
    assert again.spec == ThingSpec(value=1)
    assert again.metadata == m


async def test_create_twice_is_refused(state: State) -> None:
    await state.create(thing("a"))
    with pytest.raises(AlreadyExistsError, match="default/Thing/a already exists"):
        await state.create(thing("a", 5))
    assert (await state.get(Pointer.of(ThingSpec, "a"))).spec.value == 0


async def test_get_missing_is_not_found(state: State) -> None:
    with pytest.raises(NotFoundError, match="default/Thing/nope not found"):
        await state.get(Pointer.of(ThingSpec, "nope"))


async def test_list_is_sorted_by_id_and_limited_to_the_kind(state: State) -> None:
    for id_ in ("c", "a", "b"):
        await state.create(thing(id_, role="cp" if id_ != "b" else "worker"))
    await state.create(Resource.new("a", DoubledSpec()))  # same namespace, other type
    await state.create(thing("z"))  # no role label: matches `notin`, as in Kubernetes
    await state.create(Resource.new("x", ThingSpec(), namespace="elsewhere"))

    listed = await state.list(THINGS)
    assert [r.id for r in listed] == ["a", "b", "c", "z"]
    assert [r.id for r in await state.list(THINGS, "role=cp")] == ["a", "c"]
    assert [r.id for r in await state.list(THINGS, "role notin (cp)")] == ["b", "z"]
    assert [r.id for r in await state.list(Kind("elsewhere", "Thing"))] == ["x"]
    assert await state.list(Kind("empty", "Thing")) == []


async def test_update_changes_spec_labels_annotations_and_bumps_the_version(state: State) -> None:
    created = await state.create(thing("a", 1, role="cp"), owner="ctrl")
    created.spec.value = 2
    created.metadata.labels["zone"] = "z1"
    created.metadata.annotations["note"] = "hello"
    # Phase and finalizers are not an update's business, even if the caller changes them.
    forged = Resource(
        replace(created.metadata, phase=Phase.TEARING_DOWN, finalizers=("f",)), created.spec
    )

    updated = await state.update(forged, owner="ctrl")

    m = updated.metadata
    assert (m.version, m.phase, m.finalizers) == (2, Phase.RUNNING, ())
    assert m.labels == {"role": "cp", "zone": "z1"} and m.annotations == {"note": "hello"}
    assert m.created == created.metadata.created and m.updated >= m.created
    assert (await state.get(created.pointer)) == updated


async def test_stale_update_is_refused(state: State) -> None:
    await state.create(thing("a", 1))
    first = await state.get(Pointer.of(ThingSpec, "a"))
    second = await state.get(Pointer.of(ThingSpec, "a"))
    first.spec.value = 10
    await state.update(first)

    second.spec.value = 20
    with pytest.raises(VersionConflictError) as caught:
        await state.update(second)
    assert str(caught.value) == (
        "resource default/Thing/a: version conflict: "
        "write is based on version 1, current version is 2"
    )
    stored = await state.get(first.pointer)
    assert (stored.version, stored.spec.value) == (2, 10)


async def test_update_of_a_missing_resource_is_not_found(state: State) -> None:
    with pytest.raises(NotFoundError):
        await state.update(thing("ghost"))


async def test_only_the_owner_writes(state: State) -> None:
    created = await state.create(thing("a"), owner="ctrl-a")
    ptr = created.pointer

    with pytest.raises(OwnerConflictError) as caught:
        await state.update(created)
    assert str(caught.value) == (
        "resource default/Thing/a is owned by controller ctrl-a, not by the user"
    )
    with pytest.raises(OwnerConflictError, match="not by controller ctrl-b"):
        await state.teardown(ptr, owner="ctrl-b")
    with pytest.raises(OwnerConflictError):
        await state.destroy(ptr)
    assert (await state.get(ptr)).version == 1

    user_owned = await state.create(thing("b"))
    with pytest.raises(OwnerConflictError, match="owned by the user, not by controller ctrl-a"):
        await state.update(user_owned, owner="ctrl-a")

    assert (await state.update(created, owner="ctrl-a")).version == 2
    assert await state.teardown(ptr, owner="ctrl-a") is True
    await state.destroy(ptr, owner="ctrl-a")


async def test_finalizers_block_destroy_until_removed(state: State) -> None:
    created = await state.create(thing("a"))
    ptr = created.pointer

    assert (await state.add_finalizer(ptr, "etcd", "kubelet")).version == 2
    assert (await state.add_finalizer(ptr, "etcd")).version == 2  # nothing new, no write
    assert await state.teardown(ptr) is False
    torn = await state.get(ptr)
    assert (torn.metadata.phase, torn.version) == (Phase.TEARING_DOWN, 3)

    with pytest.raises(FinalizersPendingError) as caught:
        await state.destroy(ptr)
    assert caught.value.finalizers == ("etcd", "kubelet")
    assert "default/Thing/a" in str(caught.value) and "etcd, kubelet" in str(caught.value)

    assert (await state.remove_finalizer(ptr, "etcd", "unknown")).metadata.finalizers == (
        "kubelet",
    )
    assert await state.teardown(ptr) is False
    with pytest.raises(FinalizersPendingError):
        await state.destroy(ptr)
    assert (await state.remove_finalizer(ptr, "kubelet")).version == 5
    assert (await state.remove_finalizer(ptr, "kubelet")).version == 5

    assert await state.teardown(ptr) is True  # idempotent: no new version
    assert (await state.get(ptr)).version == 5
    await state.destroy(ptr)
    with pytest.raises(NotFoundError):
        await state.get(ptr)
    with pytest.raises(NotFoundError):
        await state.destroy(ptr)


async def test_tearing_down_refuses_new_finalizers_and_plain_updates(state: State) -> None:
    created = await state.create(thing("a"), owner="ctrl")
    await state.add_finalizer(created.pointer, "keep")
    await state.teardown(created.pointer, owner="ctrl")
    current = await state.get(created.pointer)

    with pytest.raises(PhaseConflictError, match="default/Thing/a is tearing-down"):
        await state.add_finalizer(created.pointer, "late")
    assert (await state.add_finalizer(created.pointer, "keep")).version == current.version

    current.spec.value = 7
    with pytest.raises(PhaseConflictError):
        await state.update(current, owner="ctrl")
    updated = await state.update(current, owner="ctrl", expected_phase=None)
    assert updated.metadata.phase is Phase.TEARING_DOWN and updated.spec.value == 7


async def test_types_must_be_registered_and_match_their_spec(state: State) -> None:
    with pytest.raises(UnknownTypeError, match="'Secret'"):
        await state.create(Resource.new("s", UnregisteredSpec()))
    mismatched = Resource(Metadata.new("default", "Thing", "m"), DoubledSpec())
    with pytest.raises(InvalidResourceError, match="default/Thing/m"):
        await state.create(mismatched)


async def test_a_closed_state_refuses_everything(state: State) -> None:
    await state.create(thing("a"))
    await state.close()
    with pytest.raises(StateClosedError):
        await state.get(Pointer.of(ThingSpec, "a"))
    with pytest.raises(StateClosedError):
        await state.create(thing("b"))
    with pytest.raises(StateClosedError):
        await state.watch_kind(THINGS).open()
