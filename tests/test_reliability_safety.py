"""Safety of what a run loads: safetensors only (a pickle on disk is never unpickled), validated model
files, and no network access at run time."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from reliability_helpers import DATA, cli_args, cli_env, reliability_model

from tasks_lib.adapting.model import ModelError, load_base
from tasks_lib.config import ModelConfig
from tasks_lib.running.run import check_inputs

CHALLENGES = str(DATA / "valid_two_tasks.json")


class _Trap:
    """Unpickling this creates a folder: proof that a pickle was loaded."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple:
        import os

        return (os.mkdir, (str(self.marker),))


def _trap(path: Path, marker: Path) -> None:
    import torch

    torch.save({"weight": _Trap(marker)}, path)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return reliability_model(tmp_path_factory)


def _variant(model: Path, dest: Path, change: str, marker: Path) -> Path:
    """A copy of `model` broken in one way."""
    shutil.copytree(model, dest)
    if change == "only pytorch_model.bin":
        (dest / "model.safetensors").unlink()
        _trap(dest / "pytorch_model.bin", marker)
    elif change == "config not JSON":
        (dest / "config.json").write_text('{"model_type": "llama",')
    elif change == "config is a list":
        (dest / "config.json").write_text("[]")
    elif change == "config without model_type":
        (dest / "config.json").write_text('{"hidden_size": 64}')
    elif change == "tokenizer.json not JSON":
        (dest / "tokenizer.json").write_bytes(b"\xff\xfe not json")
    elif change == "no tokenizer":
        (dest / "tokenizer.json").unlink()
    return dest


MODEL_PROBLEMS = [
    ("only pytorch_model.bin", "", "no *.safetensors weights (pickled weights are not loaded)"),
    ("config not JSON", "config.json", "not valid JSON"),
    ("config is a list", "config.json", "expected a JSON object with a model_type"),
    ("config without model_type", "config.json", "expected a JSON object with a model_type"),
    ("tokenizer.json not JSON", "tokenizer.json", "not valid JSON"),
    ("no tokenizer", "", "no tokenizer files"),
]


@pytest.mark.parametrize("change,names,problem", MODEL_PROBLEMS, ids=[m[0] for m in MODEL_PROBLEMS])
def test_bad_model_dir_is_refused_before_anything_runs(change: str, names: str, problem: str, model_dir: Path,
                                                       tmp_path: Path) -> None:
    bad = _variant(model_dir, tmp_path / "model", change, tmp_path / "unpickled")
    with pytest.raises(ModelError) as info:
        check_inputs(CHALLENGES, tmp_path / "out", "cpu", model=str(bad))
    message = str(info.value)
    assert message.startswith(str(bad / names) if names else str(bad)) and problem in message and "\n" not in message, message
    assert not (tmp_path / "unpickled").exists(), "a pickle was loaded"


def test_a_hub_name_is_not_downloaded(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model directory not found"):
        check_inputs(CHALLENGES, tmp_path / "out", "cpu", model="Qwen/Qwen2.5-0.5B")


def test_model_and_adapters_load_from_safetensors_only_and_offline(model_dir: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """With the network cut and a booby-trapped pickle beside each safetensors file, loading works
    and nothing is unpickled; an adapter folder holding only a pickle is refused."""
    model = shutil.copytree(model_dir, tmp_path / "model")
    marker = tmp_path / "unpickled"
    _trap(model / "pytorch_model.bin", marker)
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network access is not allowed in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    res = load_base(ModelConfig(path=str(model), dtype="float32", lora_rank=4, max_tokens=1024), "cpu")
    saved = res.save_adapter(tmp_path / "adapter")
    assert sorted(p.name for p in saved.iterdir() if p.suffix in (".safetensors", ".bin")) == ["adapter_model.safetensors"]
    res.load_adapter(saved, "task")
    pickled = shutil.copytree(saved, tmp_path / "pickled-adapter")
    (pickled / "adapter_model.safetensors").unlink()
    _trap(pickled / "adapter_model.bin", marker)
    with pytest.raises(ModelError, match="adapter not found"):
        res.load_adapter(pickled, "task")
    assert not marker.exists(), "a pickle was loaded"
    assert attempts == [], f"network connections attempted: {attempts}"


@pytest.mark.slow
def test_cli_refuses_a_pickle_only_model_in_one_line(model_dir: Path, tmp_path: Path, offline_env: dict[str, str]) -> None:
    procs = []
    for change in ("only pytorch_model.bin", "config is a list"):
        bad = _variant(model_dir, tmp_path / change.replace(" ", "-"), change, tmp_path / "unpickled")
        cmd = cli_args(CHALLENGES, tmp_path / "out", "cpu", "--model", str(bad))
        procs.append((bad, subprocess.Popen(cmd, env=cli_env(offline_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    for bad, proc in procs:
        out, err = proc.communicate(timeout=120)
        lines = [line for line in err.splitlines() if line.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: {bad}"), err[-2000:]
        assert "Traceback" not in out + err
    assert not (tmp_path / "unpickled").exists()
