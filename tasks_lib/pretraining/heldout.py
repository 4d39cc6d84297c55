"""Held-out loss: how well a base model predicts the evaluation sets' outputs from their demonstrations.

Contract:
- `heldout_examples(source, views, seed, max_tokens)` encodes `views` augmented views of every task of `source`
  (a bundled set name or a challenges file with solutions; its test pairs folded into the pairs), loss on every
  output after the first (the first has no demonstration to infer the rule from), deterministic in `seed`:
  the same examples for every model, so losses compare.
- `heldout_loss(model, examples, batch_tokens)` is the mean cross-entropy per labelled token over them (a model
  in eval mode, no gradients), with the token count.
- `python -m tasks_lib.pretraining.heldout --model DIR [DIR ...] --sets arc1/eval,arc2/eval` prints one JSON line
  per model and set: `{"model", "set", "loss", "tokens", "tasks", "seconds"}`.
Measuring on the evaluation sets is not training on them: nothing here updates a weight, and pretraining's data
(`pretrain_data.training_tasks`) keeps them out by content. This measures the base model alone; what a model
solves with per-task training is measured on the product path (`flows/evaluate.py`).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass
from typing import Any, Sequence

from tasks_lib.arc.augment import apply_task, random_augmentation
from tasks_lib.arc.data import Task, load_challenges
from tasks_lib.arc.encoding import IGNORE, Encoded, EncodingError, Vocab, build_arc_tokenizer, encode_train
from tasks_lib.pretraining.pretrain_data import collate, task_pairs

DEFAULT_SETS = ("arc1/eval", "arc2/eval")


@dataclass(frozen=True)
class HeldoutLoss:
    loss: float  # mean cross-entropy per labelled output token (nats)
    tokens: int  # labelled tokens it averages over


def heldout_examples(source: str, views: int = 2, seed: int = 0, max_tokens: int = 8192,
                     solutions: str | None = None) -> tuple[list[Encoded], int]:
    """(examples, tasks encoded): `views` random views of each task of `source` (module doc); a challenges file
    takes its test outputs from `solutions`."""
    vocab = Vocab.from_tokenizer(build_arc_tokenizer())
    examples, used = [], 0
    for task in load_challenges(source, solutions).tasks:
        whole = Task(task.id, task_pairs(task), ())
        rng = random.Random(f"heldout:{seed}:{task.id}")
        encoded = []
        for _ in range(views):
            aug = random_augmentation(rng, len(whole.train), keep_background=True)
            try:
                encoded.append(encode_train(vocab, apply_task(aug, whole), max_tokens, loss_on_first=False))
            except EncodingError:  # not even two pairs fit, or only the first (unlabelled) did
                continue
        examples += encoded
        used += bool(encoded)
    return examples, used


def heldout_loss(model: Any, examples: Sequence[Encoded], batch_tokens: int = 65536) -> HeldoutLoss:
    """Mean loss per labelled token of `model` over `examples` (batched by length, padded within `batch_tokens`)."""
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    pad = Vocab.from_tokenizer(build_arc_tokenizer()).pad
    ordered = sorted(examples, key=lambda e: len(e.ids))
    total, count = 0.0, 0
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    model.eval()
    with torch.no_grad(), autocast:
        start = 0
        while start < len(ordered):
            end = start + 1
            while end < len(ordered) and (end + 1 - start) * len(ordered[end].ids) <= batch_tokens:
                end += 1
            ids, labels = collate(ordered[start:end], pad)  # (B, T), (B, T)
            ids, labels = ids.to(device), labels.to(device)
            hidden = model.get_decoder()(input_ids=ids).last_hidden_state  # (B, T, H)
            targets = labels[:, 1:]  # (B, T-1)
            mask = targets != IGNORE
            logits = model.get_output_embeddings()(hidden[:, :-1][mask]).float()  # (N, V)
            total += float(F.cross_entropy(logits, targets[mask], reduction="sum"))
            count += int(mask.sum())
            start = end
    return HeldoutLoss(total / max(count, 1), count)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="held-out loss of base models on the evaluation sets")
    parser.add_argument("--model", nargs="+", required=True, help="exported model directories")
    parser.add_argument("--sets", default=",".join(DEFAULT_SETS), help="comma-separated set names or challenges files")
    parser.add_argument("--views", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=8192)
    parser.add_argument("--batch-tokens", type=int, default=65536)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    import torch
    from transformers import AutoModelForCausalLM

    from tasks_lib.adapting.model import register_architectures

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    sets = {name: heldout_examples(name, args.views, args.seed, args.max_tokens) for name in args.sets.split(",") if name}
    register_architectures()
    for path in args.model:
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch.float32).to(device)
        for name, (examples, tasks) in sets.items():
            t0 = time.time()
            measured = heldout_loss(model, examples, args.batch_tokens)
            print(json.dumps({"model": path, "set": name, "loss": round(measured.loss, 5), "tokens": measured.tokens,
                              "tasks": tasks, "seconds": round(time.time() - t0, 2)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
