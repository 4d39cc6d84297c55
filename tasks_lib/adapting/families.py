"""Which model families the fast paths (the fast train step and the decode engine) run exactly.

Contract: `fast_path_blocker(config)` returns None when the fast paths compute exactly what the model's own
forward computes, else one short sentence naming why not. Both `train_steps.fast_supported` and
`engine.Engine` ask it, so a family is either on both fast paths or on neither, and the reason the caller logs
is the same sentence. A family qualifies when its decoder is embed -> layers (pre-norm attention with
q/k/v/o projections, optional per-head q/k RMSNorm, then an MLP) -> RMSNorm -> head, every layer attends to
the whole sequence, and no logit is soft-capped. Anything else runs on the plain path (the model's own
forward through transformers), whatever its attention implementation, window or capping.

Adding a family: check that its decoder layer matches the shape above (read its transformers modeling file),
add its `model_type` to `FAST_FAMILIES`, and add it to the parametrized families test (`tests/test_families.py`),
which pins the fast step's loss and the engine's log-probabilities to the model's own forward.
"""

from __future__ import annotations

from typing import Any

FAST_FAMILIES = ("llama", "qwen2", "qwen3", "mistral", "arc_grid")


def fast_path_blocker(config: Any) -> str | None:
    """None when the fast paths support the model with this config, else the reason they do not."""
    kind = getattr(config, "model_type", None)
    if kind not in FAST_FAMILIES:
        return f"model type {kind!r} is not one the fast paths know ({', '.join(FAST_FAMILIES)})"
    layer_types = getattr(config, "layer_types", None) or []
    partial = sorted({t for t in layer_types if t != "full_attention"})
    if partial:
        return f"{kind}: layers of type {', '.join(partial)} (only full attention is supported)"
    if getattr(config, "use_sliding_window", False):
        return f"{kind}: sliding-window attention (use_sliding_window=True)"
    if kind == "mistral" and getattr(config, "sliding_window", None) is not None:
        return f"{kind}: sliding-window attention of {config.sliding_window} tokens"
    for name in ("attn_logit_softcapping", "final_logit_softcapping"):
        if getattr(config, name, None) is not None:
            return f"{kind}: logit soft-capping ({name}={getattr(config, name)})"
    return None
