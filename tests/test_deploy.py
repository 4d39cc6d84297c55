"""The deployments declared in `flows/deploy.py` point at real flows with parameters those flows accept.
No server: the flows are loaded from this checkout the way a worker loads them."""

from __future__ import annotations

import pytest

from flows import deploy


def present() -> list[deploy.Spec]:
    return [s for s in deploy.DEPLOYMENTS if s.path.exists()]


def test_submit_evaluate_and_sweep_are_declared_and_present() -> None:
    entrypoints = {s.entrypoint for s in present()}
    assert {"flows/submit.py:submit", "flows/evaluate.py:evaluate", "flows/sweep.py:sweep"} <= entrypoints
    assert any(s.entrypoint.startswith("flows/pretrain.py:") for s in deploy.DEPLOYMENTS)


@pytest.mark.parametrize("spec", present(), ids=lambda s: s.entrypoint)
def test_each_deployment_loads_and_accepts_its_default_parameters(spec: deploy.Spec) -> None:
    flow = deploy.load(spec)
    assert flow.name.startswith("arc-ttt-")
    accepted = flow.validate_parameters(dict(spec.parameters))
    assert set(spec.parameters) <= set(accepted)
    assert spec.description


def test_deployment_names_are_unique_and_sweep_targets_submit() -> None:
    from flows.sweep import SUBMIT

    names = [f"{deploy.load(s).name}/{s.name}" for s in present()]
    assert len(names) == len(set(names))
    assert SUBMIT in names


def test_deploy_refuses_to_run_without_a_server(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert deploy.main([]) == 2
    assert "PREFECT_API_URL" in capsys.readouterr().err
