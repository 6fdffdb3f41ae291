"""API keys, roles and the audit log of a real hub: every method's role check, expired and
revoked keys, and audit entries for mutating calls (refused ones too)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
from hub_helpers import code_of

from kiln.hub.auth import permissions
from kiln.hub.auth.roles import HubRole
from kiln.hub.testing import HubProcess
from kiln.machinery.api import hub_pb2, hub_pb2_grpc
from kiln.machinery.hubjoin import certificate_pin, load_hub_join, parse_join_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

#: A harmless request for every HubService method (ids that do not exist where one is named).
REQUESTS: dict[str, Any] = {
    "CreateApiKey": hub_pb2.CreateApiKeyRequest(role="reader", description="role check"),
    "ListApiKeys": hub_pb2.ListRequest(),
    "RevokeApiKey": hub_pb2.RevokeRequest(id="nosuchkey"),
    "CreateJoinToken": hub_pb2.CreateJoinTokenRequest(description="role check"),
    "ListJoinTokens": hub_pb2.ListRequest(),
    "RevokeJoinToken": hub_pb2.RevokeRequest(id="nosuchtoken"),
    "ListAudit": hub_pb2.ListAuditRequest(),
    "ListMachines": hub_pb2.ListRequest(),
    "ListReplicas": hub_pb2.ListRequest(),
    "WatchMachines": hub_pb2.ListRequest(),
    "LabelMachine": hub_pb2.LabelMachineRequest(id="nosuchmachine", set={"a": "b"}),
    "RevokeMachine": hub_pb2.RevokeRequest(id="nosuchmachine"),
    "SetMachineCredentials": hub_pb2.MachineCredentialsRequest(id="nosuchmachine"),
    "MachineVersion": hub_pb2.MachineRequest(id="nosuchmachine"),
    "MachineLogs": hub_pb2.MachineLogsRequest(id="nosuchmachine", service="machined"),
}
STREAMING = {"WatchMachines", "MachineLogs"}


async def call(stub: hub_pb2_grpc.HubServiceAsyncStub, name: str) -> grpc.StatusCode:
    """The status a call ends with (OK for a stream's first message)."""
    method = getattr(stub, name)
    try:
        if name in STREAMING:
            stream = method(REQUESTS[name], timeout=10)
            try:
                await stream.read()
            finally:
                stream.cancel()
        else:
            await method(REQUESTS[name], timeout=10)
    except grpc.aio.AioRpcError as err:
        return err.code()
    return grpc.StatusCode.OK


async def key_of(hub: HubProcess, role: HubRole, expires: int = 0) -> str:
    async with hub.client() as admin:
        request = hub_pb2.CreateApiKeyRequest(role=role.value, expires_seconds=expires)
        return (await admin.CreateApiKey(request)).key


async def test_every_hub_method_has_a_request() -> None:
    methods = {m for m in permissions.PERMISSIONS if m.startswith(permissions.HUB)}
    assert {permissions.HUB + name for name in REQUESTS} == methods


@pytest.mark.parametrize("role", list(HubRole))
async def test_each_role_may_call_exactly_its_methods(hub: HubProcess, role: HubRole) -> None:
    key = await key_of(hub, role)
    async with hub.client(key) as stub:
        for name in REQUESTS:
            code = await call(stub, name)
            allowed = role in permissions.PERMISSIONS[permissions.HUB + name].roles
            if allowed:
                assert code not in (
                    grpc.StatusCode.PERMISSION_DENIED,
                    grpc.StatusCode.UNAUTHENTICATED,
                ), f"{role} {name}: {code}"
            else:
                assert code is grpc.StatusCode.PERMISSION_DENIED, f"{role} {name}: {code}"


async def test_a_denial_names_the_role_needed(hub: HubProcess) -> None:
    key = await key_of(hub, HubRole.READER)
    async with hub.client(key) as reader:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await reader.CreateApiKey(hub_pb2.CreateApiKeyRequest(role="admin"))
    assert code_of(denied.value) is grpc.StatusCode.PERMISSION_DENIED
    assert "needs role admin" in (denied.value.details() or "")
    assert "has role reader" in (denied.value.details() or "")


async def test_missing_malformed_expired_and_revoked_keys_are_refused(hub: HubProcess) -> None:
    short = await key_of(hub, HubRole.ADMIN, expires=1)
    revoked = await key_of(hub, HubRole.OPERATOR)
    async with hub.client() as admin:
        await admin.RevokeApiKey(hub_pb2.RevokeRequest(id=revoked.split(".")[1]))
    await asyncio.sleep(1.2)
    cases = {
        "": "no API key",
        "not-a-key": "malformed",
        "khk.00000000.wrong": "not known",
        short: "expired",
        revoked: "revoked",
        hub.admin_key[:-3] + "xyz": "wrong secret",
    }
    for key, reason in cases.items():
        async with hub.client(key) as stub:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await stub.ListMachines(hub_pb2.ListRequest())
        assert code_of(refused.value) is grpc.StatusCode.UNAUTHENTICATED
        assert reason in (refused.value.details() or ""), (key, refused.value.details())


async def test_mutating_calls_are_audited_with_refusals(hub: HubProcess) -> None:
    reader = await key_of(hub, HubRole.READER)
    async with hub.client(reader) as stub:
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())
        await stub.ListMachines(hub_pb2.ListRequest())  # not mutating: not audited
    async with hub.client() as admin:
        created = await admin.CreateJoinToken(hub_pb2.CreateJoinTokenRequest())
        await admin.RevokeJoinToken(hub_pb2.RevokeRequest(id=created.id))
        with pytest.raises(grpc.aio.AioRpcError):
            await admin.RevokeJoinToken(hub_pb2.RevokeRequest(id="nosuchtoken"))
        entries = [
            json.loads(text)["spec"]
            for text in (await admin.ListAudit(hub_pb2.ListAuditRequest())).resources
        ]
    reader_id, admin_id = reader.split(".")[1], hub.admin_key.split(".")[1]
    seen = {(e["who"], e["method"], e["target"], e["result"]) for e in entries}
    assert (f"key:{reader_id} (reader)", "CreateJoinToken", "", "PERMISSION_DENIED") in seen
    assert (f"key:{admin_id} (admin)", "CreateJoinToken", "", "OK") in seen
    assert (f"key:{admin_id} (admin)", "RevokeJoinToken", created.id, "OK") in seen
    assert (f"key:{admin_id} (admin)", "RevokeJoinToken", "nosuchtoken", "NOT_FOUND") in seen
    assert not any(e["method"] == "ListMachines" for e in entries)
    times = [e["time"] for e in entries]
    assert times == sorted(times)


def kiln_hub(
    hub: HubProcess, *args: str, key: str | None = None
) -> subprocess.CompletedProcess[str]:
    config = hub.data_dir / "client.yaml"
    argv = [sys.executable, "-m", "kiln.hub", "--config", str(config)]
    argv += ["--api-key", hub.admin_key if key is None else key, *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


async def test_cli_audit_since_and_one_line_errors(hub: HubProcess) -> None:
    listed = await asyncio.to_thread(kiln_hub, hub, "audit", "--since", "10m", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert any(e["spec"]["method"] == "CreateApiKey" for e in json.loads(listed.stdout))
    future = await asyncio.to_thread(kiln_hub, hub, "audit", "--since", "2099-01-01T00:00")
    assert future.returncode == 0 and "nothing found" in future.stdout
    refused = await asyncio.to_thread(kiln_hub, hub, "apikey", "list", key="khk.0.0")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: ") and refused.stderr.count("\n") == 1
    assert "UNAUTHENTICATED" in refused.stderr
    bad = await asyncio.to_thread(kiln_hub, hub, "audit", "--since", "yesterday")
    assert bad.returncode == 1 and "--since 'yesterday'" in bad.stderr


async def test_cli_writes_a_hub_join_file(hub: HubProcess, tmp_path: Path) -> None:
    path = tmp_path / "hubjoin.yaml"
    made = await asyncio.to_thread(kiln_hub, hub, "jointoken", "create", "-o", str(path))
    assert made.returncode == 0, made.stderr
    document = load_hub_join(path)
    assert document.url == hub.url
    token = parse_join_token(document.join_token)
    server = (hub.data_dir / "pki" / "server.crt").read_bytes()
    assert token.pin == certificate_pin(server)
    listed = await asyncio.to_thread(kiln_hub, hub, "jointoken", "list", "-o", "json")
    assert token.id in {item["metadata"]["id"] for item in json.loads(listed.stdout)}
    assert token.secret not in listed.stdout
    assert all(not item["spec"]["secretHash"] for item in json.loads(listed.stdout))
