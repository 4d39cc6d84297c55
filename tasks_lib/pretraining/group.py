"""The processes of a data-parallel pretraining run as pretraining uses them: `Group` (broadcasts and sums of a few
floats on a CPU gloo group, a barrier; with one process every call is the identity), `free_port` for the processes
it starts, and `MULTICAST_OFF`, the environment that keeps NVLink multicast off."""

from __future__ import annotations

import os
from datetime import timedelta

MULTICAST_OFF = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}  # NVLink multicast stays off


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Group:
    """The process group as this module uses it: broadcasts and sums of a few floats (on a CPU gloo group,
    so no GPU sync), and a barrier. With one process every call is the identity."""

    def __init__(self, device: str, threads: int, workers: int) -> None:
        import torch
        import torch.distributed as dist

        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local = int(os.environ.get("LOCAL_RANK", str(self.rank)))
        self.control = None
        if self.world == 1:
            if threads:
                torch.set_num_threads(threads)
            return
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(self.world)))
        torch.set_num_threads(threads or max(1, cores // local_world // (1 + workers)))  # DataLoader workers take 1 each
        if device == "cuda":
            torch.cuda.set_device(self.local)
        dist.init_process_group("nccl" if device == "cuda" else "gloo", rank=self.rank, world_size=self.world,
                                timeout=timedelta(minutes=10))
        self.control = dist.new_group(backend="gloo") if device == "cuda" else dist.group.WORLD

    def broadcast(self, values: list[float]) -> list[float]:
        """Rank 0's `values` on every rank."""
        if self.world == 1:
            return values
        import torch
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64)
        dist.broadcast(tensor, src=0, group=self.control)
        return tensor.tolist()

    def total(self, values: list[float]) -> list[float]:
        """`values` summed over ranks."""
        if self.world == 1:
            return values
        import torch
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(tensor, group=self.control)
        return tensor.tolist()

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier(group=self.control)

    def close(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()
