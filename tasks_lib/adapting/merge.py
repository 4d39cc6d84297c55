"""LoRA at inference: merge the adapter into the base weights for sampling, then restore them exactly.

Contract: `with merged(model):` adds every active LoRA delta into its base layer's weight (PEFT's own
`merge`), so forward passes cost what the base model costs; on exit the deltas are removed and each base
weight is overwritten with the copy taken before merging, so the weights are bit-identical to the base
and PEFT's bookkeeping says "unmerged" again, however the merge rounded in bf16. The copies live on
`backup` = "cpu" (no GPU memory; a host-device copy of the adapted weights each way, seconds for a 7B
model) or "device" (beside the weights: fast, but as much extra GPU memory as the adapted weights).
Merging a model with no LoRA layers, or already merged, is an error rather than a silent no-op.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator


class MergeError(RuntimeError):
    """The model cannot be merged (no LoRA layers, or already merged)."""


def lora_layers(model: Any) -> list[Any]:
    from peft.tuners.lora import LoraLayer

    return [m for m in model.modules() if isinstance(m, LoraLayer)]


@contextmanager
def merged(model: Any, backup: str = "cpu") -> Iterator[Any]:
    """Merge every LoRA layer of `model` for the duration of the block; restore the base exactly after."""
    import torch

    if backup not in ("cpu", "device"):
        raise ValueError(f"backup must be cpu or device, got {backup!r}")
    layers = lora_layers(model)
    if not layers:
        raise MergeError(f"{type(model).__name__}: no LoRA layers to merge")
    if any(layer.merged for layer in layers):
        raise MergeError("the adapter is already merged; unmerge it before merging again")
    with torch.no_grad():
        weights = [layer.get_base_layer().weight.detach() for layer in layers]
        saved = [w.to("cpu", copy=True) if backup == "cpu" else w.clone() for w in weights]
        for layer in layers:
            layer.merge()
    try:
        yield model
    finally:
        with torch.no_grad():
            for layer, weight in zip(layers, saved):
                layer.unmerge()
                layer.get_base_layer().weight.copy_(weight)
