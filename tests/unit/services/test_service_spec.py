"""Service specs: validation, restart policies and backoff delays."""

from __future__ import annotations

import pytest

from kiln.machined.services import (
    Backoff,
    HealthCheck,
    HealthResult,
    RestartPolicy,
    ServiceSpec,
    ServiceSpecError,
)


@pytest.mark.parametrize("name", ["etcd", "kube-apiserver", "a", "cri.containerd", "x_1"])
def test_valid_names(name: str) -> None:
    assert ServiceSpec(name, ["true"]).name == name


@pytest.mark.parametrize("name", ["", "Etcd", "-x", "x-", "a/b", "..", "a b", "x" * 65])
def test_invalid_names(name: str) -> None:
    with pytest.raises(ServiceSpecError, match="invalid service name"):
        ServiceSpec(name, ["true"])


def test_argv_must_be_a_non_empty_list() -> None:
    with pytest.raises(ServiceSpecError, match="argv"):
        ServiceSpec("x", [])
    with pytest.raises(ServiceSpecError, match="argv"):
        ServiceSpec("x", "sleep 1")


def test_a_service_cannot_depend_on_itself() -> None:
    with pytest.raises(ServiceSpecError, match="depends on itself"):
        ServiceSpec("x", ["true"], depends_on=["x"])


def test_spec_is_frozen_with_its_collections() -> None:
    argv = ["sleep", "1"]
    env = {"A": "1"}
    spec = ServiceSpec("x", argv, env=env, depends_on=["y"])
    argv.append("2")
    env["B"] = "2"
    assert spec.argv == ("sleep", "1")
    assert dict(spec.env) == {"A": "1"}
    assert spec.depends_on == ("y",)
    with pytest.raises(TypeError):
        spec.env["C"] = "3"  # type: ignore[index]


def test_restart_policy_from_string() -> None:
    spec = ServiceSpec("x", ["true"], restart="always")  # type: ignore[arg-type]
    assert spec.restart is RestartPolicy.ALWAYS


@pytest.mark.parametrize(
    ("policy", "returncode", "restarts"),
    [
        (RestartPolicy.ALWAYS, 0, True),
        (RestartPolicy.ALWAYS, 1, True),
        (RestartPolicy.ALWAYS, None, True),
        (RestartPolicy.ON_FAILURE, 0, False),
        (RestartPolicy.ON_FAILURE, 1, True),
        (RestartPolicy.ON_FAILURE, -9, True),
        (RestartPolicy.ON_FAILURE, None, True),
        (RestartPolicy.ONCE, 0, False),
        (RestartPolicy.ONCE, 1, False),
        (RestartPolicy.ONCE, None, False),
    ],
)
def test_restart_policies(policy: RestartPolicy, returncode: int | None, restarts: bool) -> None:
    assert policy.restarts_after(returncode) is restarts


def test_backoff_grows_by_factor_and_caps() -> None:
    backoff = Backoff(initial=0.5, cap=5.0, factor=2.0)
    assert [backoff.delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff.delay(10_000) == 5.0  # no overflow


def test_backoff_of_zero_restarts_at_once() -> None:
    assert Backoff(initial=0, cap=0).delay(5) == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"initial": -1.0}, {"initial": 2.0, "cap": 1.0}, {"factor": 0.5}, {"reset_after": -1.0}],
)
def test_invalid_backoff(kwargs: dict[str, float]) -> None:
    with pytest.raises(ServiceSpecError, match="invalid backoff"):
        Backoff(**kwargs)


def test_invalid_grace_and_log_cap() -> None:
    with pytest.raises(ServiceSpecError, match="stop_grace"):
        ServiceSpec("x", ["true"], stop_grace=-1)
    with pytest.raises(ServiceSpecError, match="log_max_bytes"):
        ServiceSpec("x", ["true"], log_max_bytes=10)


def test_health_check_timing_is_validated() -> None:
    async def ok() -> HealthResult:
        return HealthResult(True)

    with pytest.raises(ValueError, match="interval"):
        HealthCheck(ok, interval=0)
