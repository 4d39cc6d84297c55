"""Slots: device leases and the pool of long-lived worker processes (one per slot, on a GPU or the CPU) that
hold the base model.

Contract:
- `plan_devices(cfg)` lists the devices a run may use: every visible CUDA GPU (or `cfg.gpus` of them),
  else the CPU.
- `claim_gpus(indices, want, lock_dir)` takes `filelock` leases without waiting, so two independent runs on one
  machine never share a GPU; it raises `LeaseError` when none is free. A lease is keyed by the physical GPU, not
  by the CUDA index this process sees: logical index i is the i-th entry of this process's `CUDA_VISIBLE_DEVICES`
  when that is set (an integer, or a `GPU-...`/`MIG-...` UUID), else i (`physical_gpu_id`); its lock file is
  `gpu-<id>.lock` with the id made file-name safe. So runs started under `CUDA_VISIBLE_DEVICES=0` and `=1` both
  see index 0 and still lease different GPUs. The same GPU named two ways (an integer in one run, its UUID in
  another) is not recognised as one GPU.
- `SlotPool` starts one worker process (`python -m tasks_lib.running.worker`) per slot, pinned to its device
  through `CUDA_VISIBLE_DEVICES` set to the GPU's physical id (`Leases.ids`), which the worker sees as `cuda:0`.
  `call(slot, op, timeout, **kwargs)` is blocking and thread-safe per slot; a call that runs past `timeout` has
  its worker killed for real (SIGKILL), a worker that dies is noticed at once, and either way `SlotError` is
  raised and the slot's next call starts a fresh worker (which reloads the model). `close()` ends every worker
  at once, killing one that is busy with a call.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from tasks_lib.config import ROOT, SlotConfig
from tasks_lib.running.worker import HEADER, write_frame

log = logging.getLogger(__name__)


class LeaseError(RuntimeError):
    """No GPU could be leased."""


class SlotError(RuntimeError):
    """A step failed in its worker. `kind`: timeout | died | oom | error | closed."""

    def __init__(self, kind: str, message: str, detail: str = ""):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.detail = detail


def default_lock_dir(cfg: SlotConfig) -> Path:
    return Path(cfg.lock_dir) if cfg.lock_dir else Path(tempfile.gettempdir()) / "arc-ttt-locks"


def visible_gpu_count() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@dataclass(frozen=True)
class DevicePlan:
    kind: str  # "cuda" or "cpu"
    indices: tuple[int, ...]  # candidate GPU indices (empty on CPU)
    want: int  # how many GPUs to lease


def plan_devices(cfg: SlotConfig) -> DevicePlan:
    n = 0 if cfg.device == "cpu" else visible_gpu_count()
    if cfg.device == "cuda" and n == 0:
        raise LeaseError("slots.device=cuda but no CUDA GPU is visible")
    if n == 0:
        return DevicePlan("cpu", (), 0)
    if cfg.gpus > n:  # the run goes on with what it can see; a user who asked for more should know
        log.warning("slots.gpus=%d but %d CUDA GPU(s) visible (CUDA_VISIBLE_DEVICES=%s): the run uses %d", cfg.gpus, n,
                    os.environ.get("CUDA_VISIBLE_DEVICES", "unset"), n)
    return DevicePlan("cuda", tuple(range(n)), min(n, cfg.gpus) if cfg.gpus else n)


def physical_gpu_id(index: int, visible: str | None = None) -> str:
    """The physical id of the GPU this process sees as CUDA index `index`: the `index`-th entry of
    `visible` (default: this process's `CUDA_VISIBLE_DEVICES`) when that is set, else `str(index)`."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES") if visible is None else visible
    if visible is None:
        return str(index)
    entries = [e.strip() for e in visible.split(",")]
    if index >= len(entries) or not entries[index]:
        raise LeaseError(f"CUDA index {index} has no entry in CUDA_VISIBLE_DEVICES={visible!r}")
    return entries[index]


def lock_name(gpu_id: str) -> str:
    """The lock file name of physical GPU `gpu_id` (anything but letters, digits, `.`, `_`, `-` becomes `_`)."""
    return "gpu-" + re.sub(r"[^A-Za-z0-9._-]", "_", gpu_id) + ".lock"


@dataclass
class Leases:
    gpus: list[int]  # CUDA indices as this process sees them
    ids: list[str] = field(default_factory=list)  # the same GPUs' physical ids (what workers get as CUDA_VISIBLE_DEVICES)
    locks: list[FileLock] = field(default_factory=list)

    def release(self) -> None:
        for lock in self.locks:
            lock.release()
        self.locks.clear()


def claim_gpus(indices: tuple[int, ...], want: int, lock_dir: Path) -> Leases:
    """Lease up to `want` free GPUs among CUDA `indices`, keyed by their physical ids (never waits). Raises
    LeaseError if none is free."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    leases = Leases([])
    ids = [physical_gpu_id(i) for i in indices]
    for i, gpu_id in zip(indices, ids):
        if len(leases.gpus) == want:
            break
        lock = FileLock(str(lock_dir / lock_name(gpu_id)))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue
        leases.gpus.append(i)
        leases.ids.append(gpu_id)
        leases.locks.append(lock)
    if not leases.gpus:
        raise LeaseError(f"all GPUs {list(indices)} (physical ids {ids}) are leased by other runs (locks in {lock_dir})")
    return leases


EXIT_GRACE_SECONDS = 5.0  # close(): how long the workers together get to exit before they are killed


@dataclass
class Slot:
    index: int
    device: str  # as the worker sees it: "cuda:0" or "cpu"
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    starts: int = 0

    @property
    def name(self) -> str:
        return f"slot-{self.index}"


class SlotPool:
    """Worker processes, one per slot (see module doc)."""

    def __init__(self, devices: list[tuple[str, dict[str, str]]], threads: int = 0, log_dir: Path | None = None):
        self.slots = [Slot(i, dev, {**env, "ARC_TTT_THREADS": str(threads)}) for i, (dev, env) in enumerate(devices)]
        self.log_dir = log_dir
        self.closed = False  # set by close(); later calls fail instead of starting a worker

    @classmethod
    def for_run(cls, cfg: SlotConfig, gpus: list[str], log_dir: Path | None = None) -> "SlotPool":
        """Slots for the leased GPUs' physical ids `gpus` (`Leases.ids`, slots_per_device each; each worker capped at
        `cfg.memory_gb` when set), or `cfg.cpu_slots` CPU slots if none."""
        if gpus:
            cap = {"ARC_TTT_MEMORY_GB": str(cfg.memory_gb)} if cfg.memory_gb > 0 else {}
            devices = [("cuda:0", {"CUDA_VISIBLE_DEVICES": str(g), **cap}) for g in gpus for _ in range(cfg.slots_per_device)]
        else:
            devices = [("cpu", {"CUDA_VISIBLE_DEVICES": ""}) for _ in range(cfg.cpu_slots)]
        threads = cfg.threads_per_slot or max(1, (os.cpu_count() or 1) // len(devices))
        return cls(devices, threads, log_dir)

    def __len__(self) -> int:
        return len(self.slots)

    def _spawn(self, slot: Slot) -> None:
        env = {**os.environ, **slot.env, "ARC_TTT_DEVICE": slot.device, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
        log = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = open(self.log_dir / f"{slot.name}.log", "ab")
        slot.proc = subprocess.Popen(
            [sys.executable, "-m", "tasks_lib.running.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, cwd=str(ROOT)
        )
        if log is not subprocess.DEVNULL:
            log.close()
        slot.starts += 1

    def _kill(self, slot: Slot) -> None:
        if slot.proc is not None:
            if slot.proc.poll() is None:
                slot.proc.kill()
            slot.proc.wait()
            for stream in (slot.proc.stdin, slot.proc.stdout):
                if stream is not None:
                    stream.close()
            slot.proc = None

    def call(self, index: int, op: str, timeout: float, **kwargs: Any) -> Any:
        """Run `op` in slot `index`'s worker; kill the worker if it takes longer than `timeout` seconds."""
        slot = self.slots[index]
        with slot.lock:
            if self.closed:
                raise SlotError("closed", f"{op} on {slot.name}: the slot pool is closed")
            if slot.proc is None or slot.proc.poll() is not None:
                self._kill(slot)
                self._spawn(slot)
            proc = slot.proc
            try:
                write_frame(proc.stdin, (op, kwargs))
            except (BrokenPipeError, OSError):
                self._kill(slot)
                raise SlotError("died", f"{slot.name} worker exited before {op}") from None
            try:
                reply = self._read(proc, time.monotonic() + max(0.0, timeout))
            except TimeoutError:
                self._kill(slot)
                raise SlotError("timeout", f"{op} on {slot.name} ran past {timeout:.0f}s; worker killed") from None
            except EOFError:
                code = proc.poll()
                self._kill(slot)
                raise SlotError("died", f"{slot.name} worker died during {op} (exit code {code})") from None
        if reply[0] == "ok":
            return reply[1]
        _, kind, message, detail = reply
        raise SlotError("oom" if kind == "oom" else "error", f"{kind}: {message}" if kind != "oom" else message, detail)

    @staticmethod
    def _read(proc: subprocess.Popen, deadline: float) -> Any:
        fd = proc.stdout.fileno()
        buf = b""
        need = HEADER.size
        size = None
        while True:
            while len(buf) < need:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                ready, _, _ = select.select([fd], [], [], min(left, 1.0))
                if not ready:
                    continue
                chunk = os.read(fd, max(need - len(buf), 1 << 16))
                if not chunk:
                    raise EOFError
                buf += chunk
            if size is None:
                size = HEADER.unpack(buf[: HEADER.size])[0]
                buf = buf[HEADER.size :]
                need = size
                continue
            return pickle.loads(buf[:size])

    def close(self) -> None:
        """End every worker; one busy with a call is killed at once (that call raises `SlotError`). Every idle
        worker is told to exit before any is waited for, so they shut down (a GPU worker frees its CUDA context)
        side by side; one still running `EXIT_GRACE_SECONDS` after the telling is killed."""
        self.closed = True
        for slot in self.slots:
            if not slot.lock.acquire(blocking=False):
                busy = slot.proc
                if busy is not None and busy.poll() is None:
                    busy.kill()
                slot.lock.acquire()
        try:
            for slot in self.slots:
                if slot.proc is not None and slot.proc.poll() is None:
                    try:
                        write_frame(slot.proc.stdin, ("exit", {}))
                    except OSError:
                        pass
            until = time.monotonic() + EXIT_GRACE_SECONDS
            for slot in self.slots:
                if slot.proc is not None:
                    try:
                        slot.proc.wait(timeout=max(0.0, until - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        pass
                self._kill(slot)
        finally:
            for slot in self.slots:
                slot.lock.release()
