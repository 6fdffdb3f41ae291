"""Answers of the machine APIs for several nodes: find a method's answer type by its name,
label messages with the node they come from, merge answers, and say how a node failed.

Shared by the nodes that forward calls (``kiln.machined.api.relay``) and the hub that relays
them to a cluster's machines (``kiln.hub.api.machine_proxy``). An answer merges when it is
``repeated messages``, each with ``metadata`` (:class:`common.Metadata`): one node's failure is
then a message of its own (``metadata.error`` and ``metadata.code``) rather than the call's.
"""

from __future__ import annotations

from typing import Any, cast

import grpc
from google.protobuf import descriptor, descriptor_pool, message_factory
from google.protobuf.message import Message

MARGIN = 1.0  # seconds of the caller's deadline kept to merge and answer when nodes are slow


def budget(remaining: float | None) -> float | None:
    """How long one of several nodes may take: the caller's time less a margin to merge the
    answers, so that a slow node is a labelled failure rather than the whole call's."""
    if remaining is None:
        return None
    return max(remaining - MARGIN, remaining / 2)


def method_descriptor(method: str) -> descriptor.MethodDescriptor:
    """The descriptor of ``/package.Service/Method`` (KeyError if no such method is known)."""
    return descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", "."))


def response_class(method: str) -> type[Message]:
    """The answer type of ``/package.Service/Method``."""
    return message_factory.GetMessageClass(method_descriptor(method).output_type)


def mergeable(output: type[Message]) -> bool:
    """Whether answers of this type merge: ``repeated messages``, each with ``metadata``."""
    field = output.DESCRIPTOR.fields_by_name.get("messages")
    return (
        field is not None
        and field.is_repeated
        and field.message_type is not None
        and "metadata" in field.message_type.fields_by_name
    )


def element_class(output: type[Message]) -> type[Message]:
    """The type of the ``messages`` of a mergeable answer type."""
    found = output.DESCRIPTOR.fields_by_name["messages"].message_type
    assert found is not None  # mergeable() checked it
    return message_factory.GetMessageClass(cast(descriptor.Descriptor, found))


def messages(response: Message) -> Any:
    """The ``messages`` of a mergeable answer (a repeated field)."""
    return getattr(response, "messages")  # noqa: B009 - protobuf reflection, any answer type


def label(message: Message, node: str) -> None:
    """Name ``node`` in the message's ``metadata`` (messages without one are left alone)."""
    if "metadata" in message.DESCRIPTOR.fields_by_name:
        getattr(message, "metadata").node = node  # noqa: B009 - protobuf reflection


def label_all(response: Message, node: str) -> None:
    """Label an answer: each of its ``messages`` if it merges, else the answer itself."""
    if mergeable(type(response)):
        for message in messages(response):
            label(message, node)
    else:
        label(response, node)


def failure(element: type[Message], node: str, code: grpc.StatusCode, error: str) -> Message:
    """A message of type ``element`` saying that ``node`` failed with ``code``."""
    failed = element()
    metadata = getattr(failed, "metadata")  # noqa: B009 - protobuf reflection
    metadata.node = node
    metadata.error = error or code.name.lower().replace("_", " ")
    metadata.code = code.value[0]
    return failed
