"""Base model, LoRA adapter and the resident-model cache.

Contract:
- `build_tiny_model(path, ...)` makes the embedded default: a small Llama-shaped causal LM with the
  ARC vocabulary, saved with `save_pretrained` (safetensors) so it loads like any HF model; with
  `positions="grid"` it is an `arc_grid` model (`tasks_lib.arc.grid_model`: rotary positions over grid, line and
  column), with `"1d"` a plain Llama. `tiny_config(...)` is its config (to count a shape's parameters without
  building weights). `register_architectures()` (called by every loader here) lets the Auto classes load `arc_grid`.
- `load_base(cfg, device)` loads any local HF causal-LM directory (no network: `local_files_only`,
  safetensors only) and its tokenizer, checks one-token-per-cell and builds the prompt format `cfg.prompt_format`
  names (`Resident.fmt`, `tasks_lib.arc.prompt_formats`) before the weights load, and wraps it with a LoRA adapter.
  `cfg.attn_implementation` "auto" lets transformers pick the model's attention implementation.
  Before any loading, the directory must hold a JSON config with a `model_type`, tokenizer files
  (a `tokenizer.json` must be valid JSON) and `*.safetensors` weights (one `model.safetensors`, or
  shards with `model.safetensors.index.json`), else `ModelError` names the file.
- `resident(cfg, device)` keeps one `Resident` per (path, device) for the life of the process: a slot
  worker loads the base model once and reuses it across tasks.
- `Resident.reset(seed)` re-initialises the LoRA weights in place (no reload) so every task starts from
  the base model (with `adapt: full`, per-task training updates every base weight instead, and the reset first
  copies the pretrained weights back in place from a copy kept on the device), A drawn from a CPU generator (the same adapter on every device; no CUDA RNG);
  `save_adapter` / `load_adapter` move the adapter as safetensors.
- `Resident.compiled(name, fn, backend)` compiles `fn` once for the slot's life (a reset keeps every
  tensor object, so it never recompiles); `Resident.compiles` counts the graphs the backend has built.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tasks_lib.arc import prompt_formats
from tasks_lib.arc.encoding import ARC_VOCAB, Vocab, build_arc_tokenizer
from tasks_lib.config import ModelConfig

ADAPTER = "default"
POSITIONS = ("1d", "grid")


def register_architectures() -> None:
    """Let `from_pretrained` load the project's own model types (`arc_grid`); called before every load, and kept
    out of import time so the parent process never imports torch."""
    from tasks_lib.arc.grid_model import register

    register()


ADAPTER_FILE = "adapter_model.safetensors"  # what PEFT's save_pretrained writes (peft.utils.SAFETENSORS_WEIGHTS_NAME)


class ModelError(RuntimeError):
    """A model directory is missing or unusable."""


def torch_dtype(name: str, device: str) -> Any:
    import torch

    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, name)


def build_tiny_model(
    path: str | Path,
    hidden: int = 128,
    layers: int = 4,
    heads: int = 4,
    intermediate: int = 384,
    max_positions: int = 8192,
    seed: int = 0,
    positions: str = "1d",
    rope_theta: float = 10000.0,
) -> Path:
    """Build and save a randomly initialised Llama-shaped model with the ARC vocabulary.

    head_dim = hidden / heads must be >= 32 (vLLM's CPU attention rejects smaller heads)."""
    import torch
    from transformers import AutoModelForCausalLM

    register_architectures()
    config = tiny_config(hidden, layers, heads, intermediate, max_positions, positions, rope_theta)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    build_arc_tokenizer().save_pretrained(out)
    return out


def tiny_config(hidden: int, layers: int, heads: int, intermediate: int, max_positions: int = 8192, positions: str = "1d",
                rope_theta: float = 10000.0) -> Any:
    """The config of `build_tiny_model` (ARC vocabulary, untied embeddings): a LlamaConfig for `positions="1d"`, an
    ArcGridConfig for `"grid"` (its grid tokens are the ARC vocabulary's newline and markers)."""
    from transformers import LlamaConfig

    from tasks_lib.arc.grid_model import ArcGridConfig

    if hidden % heads or hidden // heads < 32:
        raise ValueError(f"hidden={hidden}, heads={heads}: head_dim must be an integer >= 32")
    if positions not in POSITIONS:
        raise ValueError(f"positions={positions!r}: expected one of {POSITIONS}")
    tok = build_arc_tokenizer()
    vocab = Vocab.from_tokenizer(tok)
    grid = {"grid_tokens": {"newline": vocab.newline, "input": vocab.input, "output": vocab.output}} if positions == "grid" else {}
    return (ArcGridConfig if positions == "grid" else LlamaConfig)(
        **grid,
        vocab_size=len(ARC_VOCAB),
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=max_positions,
        rope_parameters={"rope_theta": rope_theta, "rope_type": "default"},
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )


def _validate_dir(path: Path) -> None:
    if not path.is_dir():
        raise ModelError(f"{path}: model directory not found (build the default with `python -m tasks_lib.adapting.model build {path}`)")
    config = path / "config.json"
    if not config.exists():
        raise ModelError(f"{path}: no config.json; expected a Hugging Face model directory")
    try:
        settings = json.loads(config.read_text())
    except ValueError as err:  # not JSON, or not UTF-8
        raise ModelError(f"{config}: not valid JSON ({err})") from None
    if not isinstance(settings, dict) or not isinstance(settings.get("model_type"), str):
        raise ModelError(f"{config}: expected a JSON object with a model_type")
    if not any(path.glob("*.safetensors")):
        raise ModelError(f"{path}: no *.safetensors weights (pickled weights are not loaded)")
    tokenizer = path / "tokenizer.json"
    if tokenizer.exists():
        try:
            json.loads(tokenizer.read_text())
        except ValueError as err:
            raise ModelError(f"{tokenizer}: not valid JSON ({err})") from None
    elif not any((path / name).exists() for name in ("tokenizer.model", "vocab.json", "vocab.txt")):
        raise ModelError(f"{path}: no tokenizer files (tokenizer.json, tokenizer.model, vocab.json or vocab.txt)")


def lora_init_targets(model: Any) -> list[tuple[str, Any, Any, Any]]:
    """(module name, A weight, B weight, B bias or None) of every linear LoRA layer of `model`, in module order."""
    from peft.tuners.lora import LoraLayer

    out = []
    for name, module in model.named_modules():
        if isinstance(module, LoraLayer) and ADAPTER in module.lora_A:
            bias = module.lora_B[ADAPTER].bias if getattr(module, "lora_bias", {}).get(ADAPTER) else None
            out.append((name, module.lora_A[ADAPTER].weight, module.lora_B[ADAPTER].weight, bias))
    return out


def _reset_generator(seed: int, name: str) -> Any:
    """A CPU generator for one LoRA layer: seeded by (seed, module name), so a layer's init does not depend on
    the other layers (nor on the order they are visited in)."""
    import hashlib

    import torch

    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))


def lora_a_init(shape: tuple[int, ...], generator: Any) -> Any:
    """A LoRA A weight (r, in) as PEFT initialises it (`nn.init.kaiming_uniform_(w, a=sqrt(5))`, i.e.
    U(-1/sqrt(in), 1/sqrt(in))), drawn in fp32 on the CPU from `generator`."""
    import math

    import torch

    w = torch.empty(shape, dtype=torch.float32)
    return torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)


@dataclass
class SlotState:
    """What a slot keeps between tasks, shared by sampling and training; each field has one writer."""

    engines: dict[tuple, Any] = field(default_factory=dict)  # sample.engine_for: the decode engine per (graphs, merged, compile)
    engine_blocker: str | None = None  # sample.engine_for: why the decode engine is not supported (logged once)
    train_light: Any = None  # train_steps.LightMode: the training lengths that ran out of memory
    fast_step_blocker: str | None = None  # train_steps: why the fast step is not used (logged once)
    step_graphs: Any = None  # train_graphs.StepGraphs: the CUDA-graph step's buffers, optimizer and graphs
    step_graphs_error: str | None = None  # train_steps: why the CUDA-graph step is unavailable (logged once)
    capture_failed: str = ""  # train_graphs: why a capture failed; the slot captures nothing more


@dataclass
class Resident:
    """A base model with a LoRA adapter, resident on one device."""

    model: Any  # peft.PeftModel
    tokenizer: Any
    vocab: Vocab
    device: str
    cfg: ModelConfig
    load_seconds: float
    task_id: str | None = None  # whose adapter weights are loaded now
    fmt: Any = None  # the prompt format (tasks_lib.arc.prompt_formats) every encoding goes through; None: the project's own
    slot_state: SlotState = field(default_factory=SlotState)  # what the slot keeps across tasks (SlotState)
    compiles: int = 0  # graphs built by `compiled` functions so far (first compiles and recompiles)
    _compiled: dict = field(default_factory=dict, repr=False)
    _a_init: tuple = field(default=(None, []), repr=False)  # (seed, A weights drawn for it): every task resets with one seed
    _full: tuple = field(default=((), ()), repr=False)  # adapt=full: (the base weights trained in place, their pretrained copies)

    def __post_init__(self) -> None:
        if self.fmt is None:
            from tasks_lib.arc.prompt_formats import ArcFormat

            self.fmt = ArcFormat(self.vocab)

    def compiled(self, name: str, fn: Callable, backend: str) -> Callable:
        """`fn` under torch.compile (dynamic shapes), built once per (name, backend) and kept for the slot's life."""
        key = (name, backend)
        if key not in self._compiled:
            import torch
            import torch.fx.experimental._config as fx_config

            # Without duck shaping, a sequence length that happens to equal a weight dimension
            # (hidden, intermediate) stays symbolic instead of being specialised to that size.
            fx_config.use_duck_shape = False
            inner = torch._dynamo.lookup_backend(backend)

            def counting(gm: Any, example_inputs: list) -> Callable:
                self.compiles += 1
                return inner(gm, example_inputs)

            self._compiled[key] = torch.compile(fn, backend=counting, dynamic=True)
        return self._compiled[key]

    def reset(self, seed: int, task_id: str | None = None) -> None:
        """Re-initialise every LoRA layer in place: A random (seeded), B zero, so the model equals the base.

        A is drawn as PEFT's default init (kaiming_uniform with a=sqrt(5): U(-1/sqrt(in), 1/sqrt(in))) from a CPU
        generator seeded with `seed`, then copied into the weights: the same adapter on every device, and no use
        of the CUDA generator (a failed CUDA-graph capture can leave that one unusable). The process RNGs are
        seeded with `seed` too (dropout)."""
        import torch

        torch.manual_seed(seed)
        self.restore_base()
        targets = lora_init_targets(self.model)
        if self._a_init[0] != seed:  # drawn once per seed, not at every task switch
            self._a_init = (seed, [lora_a_init(tuple(a.shape), _reset_generator(seed, name)) for name, a, _, _ in targets])
        with torch.no_grad():
            for (_, a, b, bias), init in zip(targets, self._a_init[1]):
                a.copy_(init)  # (r, in)
                b.zero_()  # (out, r)
                if bias is not None:
                    bias.zero_()
        self.task_id = task_id

    def restore_base(self) -> None:
        """adapt=full: copy the pretrained weights back into the trained ones, in place (exact; a no-op for LoRA)."""
        import torch

        with torch.no_grad():
            for weight, saved in zip(*self._full):
                weight.copy_(saved)

    def trainable_parameters(self) -> list:
        return [p for p in self.model.parameters() if p.requires_grad]

    def save_adapter(self, directory: str | Path) -> Path:
        """Write the adapter as safetensors (`ADAPTER_FILE` + adapter_config.json)."""
        out = Path(directory)
        self.model.save_pretrained(out, safe_serialization=True)
        return out

    def load_adapter(self, directory: str | Path, task_id: str) -> None:
        """Load a saved adapter into the resident LoRA weights in place."""
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        weights = Path(directory) / ADAPTER_FILE
        if not weights.exists():
            raise ModelError(f"{weights}: adapter not found")
        self.restore_base()  # adapt=full: what the task trained is not on disk; its adapter then samples the base model
        set_peft_model_state_dict(self.model, load_file(str(weights), device=self.device))
        self.task_id = task_id


def load_base(cfg: ModelConfig, device: str) -> Resident:
    """Load the base model and tokenizer from a local directory and attach a fresh LoRA adapter."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = cfg.resolved_path
    _validate_dir(path)
    register_architectures()
    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    vocab = Vocab.from_tokenizer(tokenizer)
    fmt = prompt_formats.make(cfg.prompt_format, tokenizer, vocab)  # both fail before the weights load
    base = AutoModelForCausalLM.from_pretrained(
        path,
        local_files_only=True,
        use_safetensors=True,
        dtype=torch_dtype(cfg.dtype, device),
        attn_implementation=None if cfg.attn_implementation == "auto" else cfg.attn_implementation,
    ).to(device)
    targets: Any = cfg.target_modules if cfg.target_modules == "all-linear" else [m.strip() for m in cfg.target_modules.split(",")]
    lora = LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, target_modules=targets, task_type="CAUSAL_LM")
    model = get_peft_model(base, lora)
    model.eval()
    full: tuple = ((), ())
    if cfg.adapt == "full":  # every base weight trains; the LoRA layers stay at B = 0, so they change nothing
        lora = {id(w) for _, a, b, bias in lora_init_targets(model) for w in (a, b, bias) if w is not None}
        weights = [w for w in model.parameters() if id(w) not in lora]
        for w in model.parameters():
            w.requires_grad_(id(w) not in lora)
        full = (tuple(weights), tuple(w.detach().clone() for w in weights))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return Resident(model, tokenizer, vocab, device, cfg, time.perf_counter() - t0, fmt=fmt, _full=full)


_RESIDENT: dict[tuple[str, str, ModelConfig], Resident] = {}


def resident(cfg: ModelConfig, device: str) -> tuple[Resident, bool]:
    """The process-wide resident model for (cfg, device); returns (resident, was_loaded_now)."""
    key = (str(cfg.resolved_path), device, cfg)
    if key in _RESIDENT:
        return _RESIDENT[key], False
    _RESIDENT.clear()  # one base model per worker: free the old one before loading another
    _RESIDENT[key] = load_base(cfg, device)
    return _RESIDENT[key], True


def main(argv: list[str] | None = None) -> None:
    """`python -m tasks_lib.adapting.model build DIR [--hidden H --layers L --heads N]`: build the embedded model."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tasks_lib.adapting.model")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build a random-weight Llama-shaped model with the ARC vocabulary")
    b.add_argument("path")
    b.add_argument("--hidden", type=int, default=128)
    b.add_argument("--layers", type=int, default=4)
    b.add_argument("--heads", type=int, default=4)
    b.add_argument("--intermediate", type=int, default=384)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--positions", choices=POSITIONS, default="1d", help="grid: rotary positions over grid, line and column")
    args = parser.parse_args(argv)
    out = build_tiny_model(args.path, args.hidden, args.layers, args.heads, args.intermediate, seed=args.seed, positions=args.positions)
    print(f"built {out}")


if __name__ == "__main__":
    main()
