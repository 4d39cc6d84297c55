"""Pretraining data: which tasks, and endless batches of augmented views of them.

Contract:
- `training_tasks(sources, holdout, min_shared_cells, extra)` returns the pretraining tasks: every task of
  `sources` (bundled set names or challenge files with solutions) and of `extra` (named lists of tasks already
  made, e.g. by `tasks_lib.pretraining.generate`), with test pairs folded into the train pairs, minus every task that shares
  content with `holdout`: an (input, output) pair, a grid larger than `min_shared_cells` cells, or its id. Exact
  duplicates across sources are kept once. So ARC-AGI-1 and ARC-AGI-2 evaluation stay unseen when they are the
  holdout, whatever ids other sets give their tasks.
- `batch_stream(tasks, cfg, seed)` yields (ids, labels) batches forever: each example a fresh random view
  (dihedral, colours, pair order, and an upscaling by up to `cfg.max_scale` where the grids allow it) of a task
  drawn uniformly, from the generated tasks (ids starting `gen-`) with probability `cfg.generated_fraction`;
  examples of similar length are batched within `cfg.batch_tokens` padded tokens; deterministic in `seed`.
  `loader` runs it in `cfg.workers` DataLoader processes.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Iterator, Mapping, Sequence

from tasks_lib.arc.augment import apply_task, max_scale, random_augmentation
from tasks_lib.arc.data import Grid, Pair, Task, load_challenges
from tasks_lib.arc.encoding import IGNORE, Encoded, EncodingError, Vocab, build_arc_tokenizer, encode_train
from tasks_lib.pretraining.config import PretrainConfig, PretrainError


GENERATED_PREFIX = "gen-"  # ids of procedurally generated tasks (tasks_lib.pretraining.generate)


def task_pairs(task: Task) -> tuple[Pair, ...]:
    """Train pairs plus the test pairs whose outputs are known."""
    return task.train + tuple(Pair(i, o) for i, o in zip(task.test_inputs, task.test_outputs))


def _grids(pairs: Sequence[Pair]) -> set[Grid]:
    return {g for p in pairs for g in (p.input, p.output)}


@dataclass
class DataReport:
    """What `training_tasks` kept and why it dropped the rest."""

    kept: int = 0
    per_source: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, list[str]] = field(default_factory=dict)  # source -> ids that overlap the holdout
    duplicates: int = 0  # exact copies of a task already kept

    def to_dict(self) -> dict:
        return asdict(self)


def training_tasks(sources: Sequence[str], holdout: Sequence[str] = (), min_shared_cells: int = 9,
                   extra: Mapping[str, Sequence[Task]] | None = None) -> tuple[list[Task], DataReport]:
    """Pretraining tasks (test pairs folded into train) of `sources` and of the already made task lists in `extra`
    (name -> tasks, e.g. generated ones), minus any that overlaps `holdout` (see module doc)."""
    held_ids: set[str] = set()
    held_pairs: set[Pair] = set()
    held_grids: set[Grid] = set()
    for name in holdout:
        for task in load_challenges(name).tasks:
            held_ids.add(task.id)
            pairs = task_pairs(task)
            held_pairs.update(pairs)
            held_grids.update(g for g in _grids(pairs) if len(g) * len(g[0]) > min_shared_cells)
    report = DataReport()
    kept: list[Task] = []
    seen: set[frozenset] = set()
    named = [(name, load_challenges(name).tasks) for name in sources] + list((extra or {}).items())
    for name, tasks in named:
        if not all(t.has_solutions for t in tasks):
            raise PretrainError(f"{name}: pretraining needs the test outputs of every task")
        report.per_source[name] = 0
        for task in tasks:
            pairs = task_pairs(task)
            if task.id in held_ids or held_pairs.intersection(pairs) or held_grids.intersection(_grids(pairs)):
                report.excluded.setdefault(name, []).append(task.id)
                continue
            key = frozenset(pairs)
            if key in seen:
                report.duplicates += 1
                continue
            seen.add(key)
            kept.append(Task(task.id, pairs, ()))
            report.per_source[name] += 1
    report.kept = len(kept)
    if not kept:
        raise PretrainError(f"no pretraining task left from {[n for n, _ in named]} after excluding {list(holdout)}")
    return kept, report


def augmented_example(vocab: Vocab, task: Task, rng: random.Random, max_tokens: int, keep_background: bool,
                      scale: int = 1) -> Encoded | None:
    """One random view of `task` (dihedral, colours, pair order, and an upscaling up to `scale` where the grids
    allow it) encoded with labels on every output grid; an upscaled view that does not fit is used unscaled;
    None when not even its first pair fits `max_tokens`."""
    aug = random_augmentation(rng, len(task.train), keep_background, max_scale=min(scale, max_scale(task)))
    for view in (aug, replace(aug, scale=1)) if aug.scale > 1 else (aug,):
        try:
            return encode_train(vocab, apply_task(view, task), max_tokens, loss_on_first=True)
        except EncodingError:
            continue
    return None


def length_batches(examples: list[Encoded], batch_tokens: int, rng: random.Random) -> list[list[Encoded]]:
    """Sort by length and cut into batches whose padded size (count x longest) stays within `batch_tokens`;
    the batches come back shuffled."""
    batches: list[list[Encoded]] = []
    current: list[Encoded] = []
    for ex in sorted(examples, key=lambda e: len(e.ids)):
        if current and (len(current) + 1) * len(ex.ids) > batch_tokens:
            batches.append(current)
            current = []
        current.append(ex)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def collate(batch: Sequence[Encoded], pad: int) -> tuple[Any, Any]:
    """Right-padded (ids, labels) tensors. Causal attention never lets a real token see the padding
    after it, so no attention mask is needed."""
    import torch

    width = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)  # (B, T)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)  # (B, T)
    for row, ex in enumerate(batch):
        ids[row, : len(ex.ids)] = torch.tensor(ex.ids)
        labels[row, : len(ex.labels)] = torch.tensor(ex.labels)
    return ids, labels


def batch_stream(tasks: Sequence[Task], cfg: PretrainConfig, seed: str) -> Iterator[tuple[Any, Any]]:
    """Endless (ids, labels) batches of fresh augmentations, deterministic in `seed`."""
    vocab = Vocab.from_tokenizer(build_arc_tokenizer())
    rng = random.Random(seed)
    gen = [t for t in tasks if t.id.startswith(GENERATED_PREFIX)]
    real = [t for t in tasks if not t.id.startswith(GENERATED_PREFIX)]
    pick = (lambda: rng.choice(gen) if gen and (not real or rng.random() < cfg.generated_fraction) else rng.choice(real))
    while True:
        drawn = (augmented_example(vocab, pick(), rng, cfg.max_tokens, cfg.keep_background, cfg.max_scale) for _ in range(cfg.bucket))
        for batch in length_batches([e for e in drawn if e is not None], cfg.batch_tokens, rng):
            yield collate(batch, vocab.pad)


def loader(tasks: Sequence[Task], cfg: PretrainConfig, seed: str) -> Iterator[tuple[Any, Any]]:
    """`batch_stream` in the training process, or spread over `cfg.workers` DataLoader processes."""
    if cfg.workers == 0:
        return batch_stream(tasks, cfg, seed)
    import torch
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    class Stream(IterableDataset):
        def __iter__(self):
            info = get_worker_info()
            return batch_stream(tasks, cfg, f"{seed}:{info.id if info else 0}")

    # fork: the workers inherit `tasks` instead of unpickling them (they never touch CUDA)
    return iter(DataLoader(Stream(), batch_size=None, num_workers=cfg.workers, pin_memory=torch.cuda.is_available(), prefetch_factor=4,
                           multiprocessing_context="fork"))
