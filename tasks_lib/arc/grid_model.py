"""ArcGrid: a Llama-shaped causal LM whose rotary positions know the grid (model type `arc_grid`).

Contract:
- Every layer, weight name and module is Llama's (`LlamaDecoderLayer`), so PEFT, the project's train steps, the
  decoding engine and LoRA merging treat it as a Llama model. Only the rotary embedding differs: each token has
  three positions, (grid, line, column) from `tasks_lib.arc.positions.GridAxes`, and the head dimension's frequency
  pairs are dealt to the three axes in turn (pair i rotates by axis i mod 3), so every axis gets fast and slow
  frequencies. The rotary tables have Llama's shape (B, T, D), so attention is Llama's own.
- `config.grid_tokens` names the newline and the two marker token ids; the positions follow from the ids alone,
  so `model(input_ids)` needs no position argument, and `generate` works: positions of new tokens come from the
  whole sequence (`prepare_inputs_for_generation`). Explicit `position_ids` must be (3, B, T).
- `register()` makes `AutoConfig` / `AutoModelForCausalLM.from_pretrained` load `arc_grid` directories with no
  remote code; importing `tasks_lib.adapting.model` calls it. Other programs (vLLM) do not know the type.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, LlamaModel

from tasks_lib.arc.positions import GridAxes, from_config

MODEL_TYPE = "arc_grid"


class ArcGridConfig(LlamaConfig):
    """LlamaConfig plus the token ids the grid positions are read from."""

    model_type = MODEL_TYPE
    grid_tokens: dict | None = None  # {"newline": id, "input": id, "output": id}


class GridRotaryEmbedding(nn.Module):
    """cos, sin (B, T, D) for positions (3, B, T): frequency pair i turns with axis i mod 3."""

    def __init__(self, config: ArcGridConfig):
        super().__init__()
        # Plain numbers, not buffers: `from_pretrained` builds modules on the meta device and would leave buffers
        # it does not know how to initialise empty. The tables are D/2 numbers, made at every call.
        self.dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.theta = float(config.rope_parameters["rope_theta"])

    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if position_ids.ndim != 3 or position_ids.shape[0] != 3:
            raise ValueError(f"{MODEL_TYPE}: position_ids must be (3, batch, length), got {tuple(position_ids.shape)}")
        pairs = torch.arange(0, self.dim, 2, device=x.device)  # (D/2,)
        inv_freq = self.theta ** (-pairs.float() / self.dim)  # (D/2,)
        pos = position_ids.permute(1, 2, 0)[..., (pairs // 2) % 3].float()  # (B, T, D/2) the axis each pair turns with
        freqs = pos * inv_freq  # (B, T, D/2)
        emb = torch.cat((freqs, freqs), dim=-1)  # (B, T, D)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


class ArcGridModel(LlamaModel):
    config_class = ArcGridConfig

    def __init__(self, config: ArcGridConfig):
        super().__init__(config)
        self.rotary_emb = GridRotaryEmbedding(config)
        self.scheme: GridAxes = from_config(config)  # type: ignore[assignment]

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None, **kwargs: Any) -> Any:
        if position_ids is None:
            if input_ids is None:
                raise ValueError(f"{MODEL_TYPE}: without input_ids the grid positions must be given as position_ids")
            cached = kwargs.get("cache") or kwargs.get("past_key_values")
            if cached is not None and cached.get_seq_length() > 0:
                raise ValueError(f"{MODEL_TYPE}: after cached tokens the grid positions must be given as position_ids")
            position_ids = self.scheme.of_ids(input_ids)  # (3, B, T)
        if position_ids.ndim != 3 or position_ids.shape[0] != 3:
            raise ValueError(f"{MODEL_TYPE}: position_ids must be (3, batch, length), got {tuple(position_ids.shape)}")
        if attention_mask is None:
            # A mask keeps transformers from reading (3, B, T) positions as packed sequences; all-ones is causal.
            batch, length = position_ids.shape[1:]
            cached = kwargs.get("cache") or kwargs.get("past_key_values")
            past = cached.get_seq_length() if cached is not None else 0
            attention_mask = torch.ones(batch, past + length, dtype=torch.long, device=position_ids.device)
        return super().forward(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, **kwargs)


class ArcGridForCausalLM(LlamaForCausalLM):
    config_class = ArcGridConfig

    def __init__(self, config: ArcGridConfig):
        super().__init__(config)
        self.model = ArcGridModel(config)
        self.post_init()

    def prepare_inputs_for_generation(self, input_ids: torch.Tensor, *args: Any, **kwargs: Any) -> dict:
        inputs = super().prepare_inputs_for_generation(input_ids, *args, **kwargs)
        new = inputs["input_ids"].shape[1]  # the tokens fed this step: the last `new` of the whole sequence
        inputs["position_ids"] = self.model.scheme.of_ids(input_ids)[:, :, -new:]  # (3, B, new)
        return inputs


def register() -> None:
    """Let the Auto classes load `arc_grid` directories (idempotent)."""
    try:
        AutoConfig.register(MODEL_TYPE, ArcGridConfig)
    except ValueError:  # already registered
        pass
    try:
        AutoModelForCausalLM.register(ArcGridConfig, ArcGridForCausalLM)
    except ValueError:
        pass
