"""MachineStatusController: stage and readiness from the stage, the config and the services."""

from __future__ import annotations

from kiln.machined.controllers.runtime.machine_status import MachineStatusController
from kiln.machinery.config.generate import generate_configs
from kiln.machinery.resources import MachineStatusSpec, ServiceStatusSpec, Stage
from kiln.machinery.resources.config import machine_config
from kiln.machinery.resources.runtime import machine_stage, machine_status, service
from kiln.machinery.secrets import SecretsBundle
from kiln.resources import Pointer
from kiln.resources.testing import ControllerHarness

STATUS = Pointer.of(MachineStatusSpec, machine_status.ID)


async def test_ready_once_running_configured_and_services_run() -> None:
    config = generate_configs("t", "https://127.0.0.1:6443", SecretsBundle.generate())
    async with ControllerHarness(MachineStatusController()) as harness:
        state = harness.state
        await harness.wait_for(
            STATUS,
            lambda r: r.spec.unmet_conditions == ["the machine is booting", "no machine config"],
        )

        await state.create(machine_stage.new(Stage.MAINTENANCE))
        found = await harness.wait_for(STATUS, lambda r: r.spec.stage is Stage.MAINTENANCE)
        assert not found.spec.ready

        stage = await state.get(machine_stage.new(Stage.RUNNING).pointer)
        stage.spec = machine_stage.new(Stage.RUNNING).spec
        await state.update(stage)
        await state.create(machine_config.new(config.controlplane))
        failing = service.new("etcd", ServiceStatusSpec(state="failed"))
        await state.create(failing)
        found = await harness.wait_for(STATUS, lambda r: r.spec.stage is Stage.RUNNING)
        assert found.spec.unmet_conditions == ["service etcd is failed"]

        etcd = await state.get(failing.pointer)
        etcd.spec = ServiceStatusSpec(state="running", health="healthy")
        await state.update(etcd)
        await harness.wait_for(STATUS, lambda r: r.spec.ready)
