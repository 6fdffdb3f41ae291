"""Helpers of the hub tests."""

from __future__ import annotations

import grpc


def code_of(err: BaseException) -> grpc.StatusCode:
    """The status of a failed hub call."""
    assert isinstance(err, grpc.aio.AioRpcError), err
    return err.code()
