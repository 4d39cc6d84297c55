"""vLLM sampler backend: one engine per slot process, LoRA enabled, a fresh adapter name and id per task.

Contract: `sample_views(res, prompts, cfg, max_new, deadline, adapter_dir)` is a `sample.ViewSampler`.
The first call in a process starts one `vllm.LLM` over the resident model's directory (kept for the life
of the process, like the resident model); later calls reuse it. When `adapter_dir` holds a saved adapter,
requests carry a `LoRARequest` whose name and integer id (>= 1) are new for every (task, adapter file)
seen by this process: vLLM caches adapters and prefix blocks by name and id, so reusing them across tasks
could serve another task's weights. Each view gets one greedy completion and `samples_per_view - 1`
sampled ones (`n` per request); ids end with eos when the model stopped there; the log-probability is
vLLM's cumulative log-probability of the generated ids. vLLM is imported only here, on first use.
A model whose positions vLLM cannot compute (`arc_grid`: rotary positions over grid, line and column) is
refused with `VllmUnsupported` before vLLM starts: use the `cached` or `dfs` backend for it.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from tasks_lib.adapting.model import ADAPTER_FILE, Resident
from tasks_lib.config import SampleConfig

_ENGINES: dict[tuple[str, str], Any] = {}


class VllmUnsupported(RuntimeError):
    """The resident model is one vLLM cannot run as this project trains it."""

_ADAPTER_IDS: dict[tuple[str | None, str, int], int] = {}
_NEXT_ID = itertools.count(1)


def engine(res: Resident, cfg: SampleConfig) -> Any:
    """The process's vLLM engine over the resident model's directory (started on first use)."""
    model_type = res.model.get_base_model().config.model_type
    if getattr(res.model.get_base_model().config, "grid_tokens", None):
        raise VllmUnsupported(f"{res.cfg.resolved_path}: model type {model_type} uses grid positions, which vLLM does not "
                              "compute; use sample.backend cached or dfs")
    from vllm import LLM

    key = (str(res.cfg.resolved_path), res.device)
    if key not in _ENGINES:
        _ENGINES.clear()  # one engine per slot process
        dtype = "float32" if res.device == "cpu" else "bfloat16" if res.cfg.dtype == "auto" else res.cfg.dtype
        _ENGINES[key] = LLM(model=key[0], tokenizer=key[0], dtype=dtype, enable_lora=True, max_loras=1, max_lora_rank=res.cfg.lora_rank,
                            max_model_len=res.cfg.max_tokens, gpu_memory_utilization=cfg.vllm_memory, seed=cfg.seed,
                            enable_prefix_caching=True)
    return _ENGINES[key]


def lora_request(res: Resident, adapter_dir: str | None) -> Any:
    """A LoRARequest for the task's saved adapter (new name and id per task and adapter file), or None."""
    if not adapter_dir:
        return None
    weights = Path(adapter_dir) / ADAPTER_FILE
    if not weights.exists():
        return None
    from vllm.lora.request import LoRARequest

    key = (res.task_id, str(weights.resolve()), weights.stat().st_mtime_ns)
    if key not in _ADAPTER_IDS:
        _ADAPTER_IDS.clear()
        _ADAPTER_IDS[key] = next(_NEXT_ID)
    lora_id = _ADAPTER_IDS[key]
    return LoRARequest(f"{res.task_id or 'task'}-{lora_id}", lora_id, str(Path(adapter_dir).resolve()))


def sample_views(res: Resident, prompts: list[list[int]], cfg: SampleConfig, max_new: int, deadline: float,
                 adapter_dir: str | None) -> list[list[tuple[list[int], float, bool]]]:
    """One greedy and `samples_per_view - 1` sampled completions per prompt, through vLLM."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    llm = engine(res, cfg)
    lora = lora_request(res, adapter_dir)
    eos = res.vocab.eos
    requests = [TokensPrompt(prompt_token_ids=list(p)) for p in prompts]
    common = dict(max_tokens=max_new, stop_token_ids=[eos], logprobs=0, detokenize=False)
    runs = [(SamplingParams(n=1, temperature=0.0, **common), True)]
    if cfg.samples_per_view > 1:
        runs.append((SamplingParams(n=cfg.samples_per_view - 1, temperature=cfg.temperature, seed=cfg.seed, **common), False))
    out: list[list[tuple[list[int], float, bool]]] = [[] for _ in prompts]
    for params, greedy in runs:
        for v, result in enumerate(llm.generate(requests, params, lora_request=lora, use_tqdm=False)):
            for comp in result.outputs:
                ids = list(comp.token_ids)
                if comp.finish_reason == "stop" and (not ids or ids[-1] != eos):
                    ids.append(eos)
                out[v].append((ids, float(comp.cumulative_logprob or 0.0), greedy))
    return out
