"""The deployments declared in `flows/deploy.py` point at real flows with parameters those flows accept.
No server: the flows are loaded from this checkout the way a worker loads them."""

from __future__ import annotations

import pytest

from pathlib import Path

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


@pytest.mark.parametrize("spec", present(), ids=lambda s: s.entrypoint)
def test_every_parameter_has_a_description_and_every_deployment_a_telling_name(spec: deploy.Spec) -> None:
    flow = deploy.load(spec)
    schema = flow.parameters.model_dump()["properties"]
    assert schema and all(p.get("description") for p in schema.values()), {k: p.get("description") for k, p in schema.items()}
    assert spec.name != "default" and spec.name.replace("-", "").isalnum()


def test_order_and_profile_offer_their_known_values_and_a_profile_path_still_validates(tmp_path: Path) -> None:
    from tasks_lib.config import profile_names

    for spec in present():
        if spec.entrypoint.split(":")[1] not in ("submit", "evaluate"):
            continue
        flow = deploy.load(spec)
        schema = flow.parameters.model_dump()["properties"]
        assert schema["order"]["enum"] == ["file", "smallest"]
        assert {"enum": list(profile_names()), "title": "shipped profile", "type": "string"} in schema["profile"]["anyOf"]
        assert flow.validate_parameters({"profile": str(tmp_path / "mine.yaml")})["profile"].endswith("mine.yaml")
        with pytest.raises(Exception, match="order"):
            flow.validate_parameters({"order": "largest"})
