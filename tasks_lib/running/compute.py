"""How much arithmetic a run's per-task training did, and what share of the cards' bf16 peak that was.

Contract: `training_compute(tasks, parameters, work_seconds, gpus, device_name, resumed, shared)` reads the task
records of a run (`records.TaskResult`s: `train` and `refinements`; the tasks in `resumed` trained in an earlier run and
count nothing) and the shared adapter's training when this run did it (`shared`: a `TrainRecord`, scope shared), and
returns a `report_parts.Compute` record, kept in report.json as `compute`:

    FLOPs        = 6 x N x T        N: the model's parameters (base and adapter, as the slot loaded them),
                                    T: the trained views' own tokens (padding not counted), pass 1, refinements
                                       and the shared adapter;
                                    2N a token forward and 4N backward; attention's own FLOPs are not counted
    train rate   = FLOPs / sum of the tasks' train seconds            (what a slot does while it trains)
    MFU          = FLOPs / (work seconds x GPUs) / peak               (what the cards did over the run)

`peak` is the card's dense bf16 matrix rate from `PEAK_BF16` by device name (None off CUDA or for an unknown card:
then the record has no MFU). LoRA trains fewer weights than N, but its forward and backward pass through all of them
(the weight gradients of frozen layers are skipped, so 6N is an upper bound there, the convention all MFU figures use).
"""

from __future__ import annotations

from typing import Collection, Iterable

from tasks_lib.arc.records import TaskResult, TrainRecord
from tasks_lib.arc.report_parts import Compute

# Dense bf16 matrix rate, FLOP/s. H100 and H200: an 8192^3 bf16 product through torch measured 769-798 TFLOP/s on the
# lent machines (the device tool's KINDS.md), below the 989 of the datasheet; the figure here is that measurement, so
# an MFU is a share of what a matrix product really reaches on the card. L4: the datasheet's 121 (no L4 was measured).
PEAK_BF16 = {"H100": 790e12, "H200": 790e12, "L4": 121e12}


def device_name(device: str) -> str:
    """The card's name (`torch.cuda.get_device_name`) for a CUDA device string, else the device string itself."""
    if not device.startswith("cuda"):
        return device
    import torch

    return torch.cuda.get_device_name(torch.device(device))


def peak_flops(device_name: str | None) -> float | None:
    """The dense bf16 peak of a card named like `torch.cuda.get_device_name()` ("NVIDIA H100 80GB HBM3"), or None."""
    if not device_name:
        return None
    words = device_name.upper().replace("-", " ").split()
    return next((rate for card, rate in PEAK_BF16.items() if card in words), None)


def trained(task: TaskResult) -> tuple[int, float]:
    """(tokens, seconds) a task record trained, pass 1 and every refinement."""
    tokens, seconds = (0, 0.0) if task.train is None else (task.train.tokens, task.train.seconds)
    for entry in task.refinements:
        tokens += entry.train_tokens
        seconds += entry.train_seconds
    return tokens, seconds


def training_compute(tasks: Iterable[TaskResult], parameters: int, work_seconds: float, gpus: int, device_name: str | None,
                     resumed: Collection[str] = (), shared: TrainRecord | None = None) -> Compute:
    """The run's `Compute` from its task records and the shared adapter's training (module doc); tasks resumed from
    an earlier run count nothing."""
    tokens, seconds = (0.0, 0.0) if shared is None else (float(shared.tokens), shared.seconds)
    for task in tasks:
        if task.task_id in resumed:
            continue
        t, s = trained(task)
        tokens, seconds = tokens + t, seconds + s
    flops = 6.0 * parameters * tokens
    peak = peak_flops(device_name)
    mfu = flops / (work_seconds * gpus * peak) if peak and work_seconds > 0 and gpus > 0 else None
    return Compute(parameters, int(tokens), round(seconds, 3), flops, round(flops / seconds / 1e12, 3) if seconds > 0 else None,
                   round(work_seconds, 3), gpus, device_name, peak / 1e12 if peak else None, None if mfu is None else round(mfu, 5))
