"""The slot worker: a long-lived process that owns one device and keeps the base model resident.

Contract: started as `python -m tasks_lib.running.worker` by `tasks_lib.running.slots.SlotPool` with the device already
chosen through the environment (`CUDA_VISIBLE_DEVICES`, `ARC_TTT_DEVICE`, `ARC_TTT_THREADS`, and
`ARC_TTT_MEMORY_GB`: a cap on its CUDA allocations, `tasks_lib.adapting.memory.cap_process`). It reads
requests `(op, kwargs)` as length-prefixed pickle frames on stdin and answers `("ok", result)` or
`("err", type name, message)` on its original stdout (Python's `sys.stdout` goes to stderr so stray
prints cannot corrupt the channel). Ops:

- `load(model, train=None)`: make sure the base model is resident (loads once per process) and, given the
  train config, compile the training step before any task's clock runs; returns a `report_parts.SlotLoad`'s JSON form;
- `train(task, model, train, adapter_dir, deadline, seed, resume=False)`: reset the adapter in place (with
  `resume`, load the one saved at `adapter_dir` instead: a refinement continues it), train until the
  deadline or step cap, save the adapter;
- `train_shared(tasks, model, train, adapter_dir, deadline, seed, max_steps)`: the `shared` train scope: reset
  the adapter, train it on every task of the run at once (tasks_lib/adapting/shared_adapter.py), save it;
- `sample(task, model, sample, adapter_dir, deadline)`: use this task's adapter (loaded from
  `adapter_dir` if another task's is resident, or the base model when there is none), return candidates;
- `exit`.

A worker whose parent (the run) is gone exits within a second, so a killed run leaves no worker behind.

Fault injection for tests: `ARC_TTT_INJECT="op:fault:task_id[,…]"` with fault `hang`, `crash` or `oom`
makes that op misbehave for that task (`*` matches any task), so the supervisor's recovery paths are
exercised for real.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, BinaryIO

HEADER = struct.Struct("<Q")


def write_frame(stream: BinaryIO, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: BinaryIO) -> Any:
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        raise EOFError("channel closed")
    size = HEADER.unpack(head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("channel closed mid-frame")
    return pickle.loads(data)


class InjectedOOM(RuntimeError):
    """Stands in for torch.OutOfMemoryError in fault-injection tests."""


def _inject(op: str, task_id: str) -> None:
    for rule in filter(None, os.environ.get("ARC_TTT_INJECT", "").split(",")):
        r_op, fault, r_task = (rule.split(":", 2) + ["", ""])[:3]
        if r_op != op or r_task not in ("*", task_id):
            continue
        marker = os.environ.get("ARC_TTT_INJECT_ONCE")
        if marker:  # fire once per run: the marker file records that it fired
            flag = Path(marker) / f"{op}-{fault}-{task_id}"
            if flag.exists():
                continue
            flag.parent.mkdir(parents=True, exist_ok=True)
            flag.touch()
        if fault == "hang":
            while True:
                time.sleep(3600)
        if fault == "crash":
            os._exit(137)
        if fault == "oom":
            raise InjectedOOM(f"CUDA out of memory (injected for task {task_id})")


class Worker:
    def __init__(self, device: str):
        self.device = device

    def _resident(self, model_cfg):
        from tasks_lib.adapting.model import resident

        return resident(model_cfg, self.device)

    def load(self, model, train=None) -> dict:
        """Load the base model once; with `train`, also compile the training step (see train.warm_up)."""
        from tasks_lib.arc.report_parts import SlotLoad
        from tasks_lib.running.compute import device_name

        res, loaded_now = self._resident(model)
        n = sum(p.numel() for p in res.model.parameters())
        t0 = time.time()
        graphs = 0
        if train is not None:
            from tasks_lib.adapting.train import warm_up

            graphs = warm_up(res, train)
        return SlotLoad(device=self.device, device_name=device_name(self.device), loaded_now=loaded_now, load_seconds=res.load_seconds,
                        parameters=n, warm_up_seconds=time.time() - t0, graphs_compiled=graphs).to_json()

    def train(self, task, model, train, adapter_dir, deadline, seed, resume=False, latest=None) -> dict:
        from tasks_lib.adapting.model import ADAPTER_FILE
        from tasks_lib.adapting.train import train_adapter

        _inject("train", task.id)
        res, loaded_now = self._resident(model)
        t0 = time.time()
        if resume and (Path(adapter_dir) / ADAPTER_FILE).exists():
            res.load_adapter(adapter_dir, task.id)
        else:
            res.reset(seed, task.id)
        reset_s = time.time() - t0
        stats = train_adapter(res, task, train, model.max_tokens, deadline, latest)
        res.save_adapter(adapter_dir)
        return {**stats.to_dict(), "reset_seconds": reset_s, "loaded_now": loaded_now}

    def train_shared(self, tasks, model, train, adapter_dir, deadline, seed, max_steps, latest=None) -> dict:
        """Reset the adapter, train it on all `tasks` (tasks_lib/adapting/shared_adapter.py) and save it to `adapter_dir`."""
        from tasks_lib.adapting.shared_adapter import SHARED_ID, train_shared

        res, loaded_now = self._resident(model)
        res.reset(seed, SHARED_ID)
        stats = train_shared(res, tasks, train, model.max_tokens, deadline, max_steps, latest)
        res.save_adapter(adapter_dir)
        return {**stats, "loaded_now": loaded_now}

    def sample(self, task, model, sample, adapter_dir, deadline) -> dict:
        from tasks_lib.adapting.model import ADAPTER_FILE
        from tasks_lib.decoding.sample import sample_task

        _inject("sample", task.id)
        res, loaded_now = self._resident(model)
        switched = False
        if res.task_id != task.id:
            if adapter_dir and (Path(adapter_dir) / ADAPTER_FILE).exists():
                res.load_adapter(adapter_dir, task.id)
            else:
                res.reset(0, task.id)  # no adapter: sample the base model
            switched = True
        per_test, stats = sample_task(res, task, sample, model.max_tokens, deadline, adapter_dir or None)
        return {
            "candidates": per_test,  # records.Candidate lists, per test input
            "stats": vars(stats),
            "loaded_now": loaded_now,
            "adapter_switched": switched,
        }


def serve(inp: BinaryIO, out: BinaryIO, device: str) -> None:
    worker = Worker(device)
    while True:
        try:
            op, kwargs = read_frame(inp)
        except EOFError:
            return
        if op == "exit":
            write_frame(out, ("ok", None))
            return
        try:
            result = getattr(worker, op)(**kwargs)
            write_frame(out, ("ok", result))
        except Exception as err:  # reported to the supervisor, which decides to retry or give up
            oom = type(err).__name__ in ("OutOfMemoryError", "InjectedOOM") or "out of memory" in str(err).lower()
            write_frame(out, ("err", "oom" if oom else type(err).__name__, f"{err}", traceback.format_exc(limit=8)))


def _exit_with_parent(parent: int, every: float = 1.0) -> None:
    """End this worker once the run that started it is gone (e.g. killed with SIGKILL), so a hung
    step never outlives its run and keeps the device."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(0)


def main() -> None:
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    channel_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # prints go to stderr, frames to the channel
    threads = int(os.environ.get("ARC_TTT_THREADS", "0"))
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    device = os.environ.get("ARC_TTT_DEVICE", "cpu")
    cap_gb = float(os.environ.get("ARC_TTT_MEMORY_GB", "0"))
    if cap_gb > 0:
        from tasks_lib.adapting.memory import cap_process

        cap_process(device, cap_gb)
    serve(sys.stdin.buffer, channel_out, device)


if __name__ == "__main__":
    main()
