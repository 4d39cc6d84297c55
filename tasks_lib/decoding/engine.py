"""Decoding engine: a KV cache it owns, prompts prefilled once and shared, batched steps, CUDA graphs.

Contract:
- `Engine(model)` wraps a causal LM of a family `tasks_lib.adapting.families.fast_path_blocker` accepts (Llama, Qwen2, Qwen3,
  Mistral without a sliding window, arc_grid), plain or PEFT-wrapped, and raises `EngineError` with the blocker's
  reason for any other (`tasks_lib.decoding.plain_engine.PlainEngine` runs those). It calls
  the model's own projection, norm and MLP modules, so an unmerged LoRA adapter is applied and a merged one
  costs nothing extra. It knows nothing about tokenization or grids: it takes and returns token ids.
- `prefill(prompts)` runs each prompt once and returns a `Prefix` (`tasks_lib.decoding.decode_state`): every prompt's per-layer
  K/V, padded to a common bucketed length (with a mask), and the next-token log-probabilities after each prompt. Each
  layer writes its K/V straight into the `Prefix`, and logits are computed for the last position only.
- `generate(prefix, n, max_new, eos, temperature, greedy_first, deadline, seed, min_ended)` decodes `n` continuations
  of every prompt in one batch. Each prompt's K/V is read once per step for all its `n` rows; the generated K/V
  lives in one static buffer. A row stops at `eos` (kept in its ids) or at `max_new` tokens; the loop ends
  when every row has stopped, or when the deadline has passed and at least `min_ended` rows have reached `eos`
  (unfinished rows then come back without `eos`).
  Returns, per prompt, `n` pairs `(ids, logprob)` where logprob is the sum of the model's log-probabilities
  (temperature 1) of the ids.
- `dfs(prefix, view, eos, threshold, max_len, max_candidates, deadline)` runs `search.dfs` on one prompt.
- `score(prefix, view, completions)` returns the log-probability of each given completion after the prompt
  (`tasks_lib.decoding.teacher`: in pieces of rows and positions, reading the prompt's K/V in place).
- `trace(prefix, view, tokens)` feeds `tokens` by decode steps (the DFS path) and returns the log-probabilities
  after each: a check of the decode step against `score` or another engine.
- A single-token decode step runs `_decode`, the same transformer as the multi-token `forward` with fewer kernels
  (fused RMSNorm, a folded rotation and scale, one bias add, the own-K/V product accumulated onto the prefix's);
  `fused=False` uses `forward` for it too. If the fused step raises, the engine logs once and uses `forward`.
- `compile`: "off" (the default, until measured on a GPU) or a torch.compile backend ("inductor", "aot_eager",
  "eager") for the fused step's layer body `_decode_layer` (norm, projections, rotation, cache write, attention, MLP):
  one callable for every layer and every engine of the process (static shapes: one graph per rows, prefix length and
  window; `tasks_lib.decoding.compiled.COMPILES` counts them), called inside the step, so a CUDA graph captures its kernels as any others. A
  compile or compiled call that raises logs once and the uncompiled body runs from then on.
- `graphs`: "auto" (or True/None) captures a decode step once per shape (rows, prefix length, own capacity bucket,
  own window) as a CUDA graph on CUDA and replays it; the static buffers and the model's parameters are what the
  graph reads, so weights changed in place (merging a LoRA adapter, loading the next task's) need no recapture,
  and replaced parameter tensors (a new data pointer) drop every graph. A failed capture logs once and the engine
  runs eagerly from then on; "on" raises instead. "off" (or False), and any non-CUDA device, run eagerly.
- Decode states (static buffers and graphs, up to `max_states` shapes) stay cached between calls; `cached_bytes()` is
  what they hold and `release()` drops them (`tasks_lib.adapting.memory` plans around them).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from tasks_lib.adapting.families import fast_path_blocker
from tasks_lib.arc.positions import for_model
from tasks_lib.decoding import teacher
from tasks_lib.decoding.compiled import COMPILE_ERRORS, COMPILE_MODES, compile_layer
from tasks_lib.decoding.decode_state import DecodeState as _State
from tasks_lib.decoding.decode_state import Prefix
from tasks_lib.decoding.search import SearchStats, dfs

log = logging.getLogger(__name__)

PREFIX_BUCKET = 256  # prompt K/V is padded to a multiple of this on CUDA: fewer graph shapes, < 256 wasted slots
WINDOW_BUCKET = 64  # attention over generated tokens reads a window of this granularity, not the whole buffer
GRAPH_MODES = ("auto", "on", "off")
_STEP_ERRORS = (RuntimeError, TypeError, ValueError, AttributeError, IndexError)  # a failed fused step or capture


class EngineError(RuntimeError):
    """The model's architecture is not one the engine can run."""


def _round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Engine:
    """Batched decoding with an engine-owned KV cache (see module doc)."""

    def __init__(self, model: Any, graphs: bool | str | None = None, max_states: int = 4, fused: bool = True,
                 compile: str = "off"):
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        body = getattr(base, "model", None)
        if body is None or not hasattr(body, "layers") or not hasattr(body, "rotary_emb"):
            raise EngineError(f"{type(base).__name__}: expected a Llama-style model with .model.layers and .model.rotary_emb")
        attn = body.layers[0].self_attn
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            if not hasattr(attn, name):
                raise EngineError(f"{type(attn).__name__} has no {name}: not a Llama/Qwen-style attention")
        cfg = base.config
        blocker = fast_path_blocker(cfg)
        if blocker is not None:
            raise EngineError(blocker)
        self.model, self.lm, self.body = model, base, body
        self.scheme = for_model(model)  # token positions: one axis, or (grid, line, column) for arc_grid models
        self.layers = list(body.layers)
        self.n_layers = len(self.layers)
        self.n_heads = cfg.num_attention_heads
        self.n_kv = getattr(cfg, "num_key_value_heads", None) or self.n_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads
        self.scale = self.head_dim**-0.5
        self.vocab_size = base.get_output_embeddings().weight.shape[0]
        self.device = base.get_input_embeddings().weight.device
        self.dtype = base.get_input_embeddings().weight.dtype
        mode = "auto" if graphs is None or graphs is True else "off" if graphs is False else graphs
        if mode not in GRAPH_MODES:
            raise ValueError(f"graphs must be one of {GRAPH_MODES} or a bool, got {graphs!r}")
        self.strict = mode == "on"  # a failed capture raises instead of falling back to eager steps
        self.graphs = mode != "off" and self.device.type == "cuda"
        norms = [m for layer in self.layers for m in (layer.input_layernorm, layer.post_attention_layernorm)] + [body.norm]
        self.fused = fused and all(hasattr(m, "weight") and hasattr(m, "variance_epsilon") for m in norms)
        self.fallbacks: list[str] = []  # what fell back to a slower path, and why (logged once each)
        self.bucket = PREFIX_BUCKET if self.device.type == "cuda" else 1
        self.max_states = max_states
        self._states: dict[tuple[int, int, int, int], _State] = {}
        self._pool = torch.cuda.graph_pool_handle() if self.graphs else None  # one memory pool for every graph
        self._params: tuple[int, ...] | None = None  # data pointers of the parameters the graphs were captured with
        if compile not in COMPILE_MODES:
            raise ValueError(f"compile must be one of {COMPILE_MODES}, got {compile!r}")
        self.compile = compile
        self._compiled_layer: Callable[..., torch.Tensor] | None = None if compile == "off" or not self.fused else self._compile_layer(compile)

    def _compile_layer(self, backend: str) -> Callable[..., torch.Tensor] | None:
        """`_decode_layer` under torch.compile (`compiled.compile_layer`); None (logged) if torch.compile refuses."""
        try:
            return compile_layer(self._decode_layer, backend)
        except COMPILE_ERRORS as err:
            self._fall_back(f"torch.compile of the decode layer ({backend})", err)
            return None

    # ---- the transformer, over the model's own modules ----

    def _qkv(self, attn: Any, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, ...]:
        B, T, _ = h.shape
        q = attn.q_proj(h).view(B, T, self.n_heads, self.head_dim)  # (B, T, H, D)
        k = attn.k_proj(h).view(B, T, self.n_kv, self.head_dim)  # (B, T, Hkv, D)
        v = attn.v_proj(h).view(B, T, self.n_kv, self.head_dim)  # (B, T, Hkv, D)
        if hasattr(attn, "q_norm"):  # Qwen3 normalises each head before the rotation
            q, k = attn.q_norm(q), attn.k_norm(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, H|Hkv, T, D)
        c, s = cos[:, None], sin[:, None]  # (B, 1, T, D)
        return q * c + _rotate_half(q) * s, k * c + _rotate_half(k) * s, v

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.lm.lm_head(self.body.norm(x)).float(), dim=-1)  # (B, T, V)

    @torch.inference_mode()
    def _prefill_one(self, ids: Sequence[int], k_out: torch.Tensor, v_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run one prompt, writing its K/V into `k_out`, `v_out` (L, Hkv, Pc, D) as each layer makes them (no
        per-layer list, no stacked copy); returns the next-token log-probs (V,) and the last position (A,)."""
        tok = torch.tensor([list(ids)], device=self.device)  # (1, P)
        P = tok.shape[1]
        x = self.body.embed_tokens(tok)  # (1, P, E)
        pos = self.scheme.of_ids(tok)  # (A, 1, P)
        cos, sin = self.scheme.rope(self.body, x, pos)  # (1, P, D)
        for i, layer in enumerate(self.layers):
            attn = layer.self_attn
            q, k, v = self._qkv(attn, layer.input_layernorm(x), cos, sin)  # (1, H, P, D), (1, Hkv, P, D)
            k_out[i, :, :P], v_out[i, :, :P] = k[0], v[0]
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale, enable_gqa=self.n_kv != self.n_heads)  # (1, H, P, D)
            del q, k, v
            x = x + attn.o_proj(a.transpose(1, 2).reshape(1, P, -1))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return self._head(x[:, -1:])[0, 0], pos[:, 0, -1]  # (V,) only the last position's logits, (A,)

    @torch.inference_mode()
    def prefill(self, prompts: Sequence[Sequence[int]]) -> Prefix:
        """Run every prompt once; their K/V padded to a common length (see module doc)."""
        if not prompts or any(len(p) == 0 for p in prompts):
            raise ValueError("prefill needs at least one non-empty prompt")
        pc = _round_up(max(len(p) for p in prompts), self.bucket)
        W, L, Hkv, D = len(prompts), self.n_layers, self.n_kv, self.head_dim
        k = torch.zeros(L, W, Hkv, pc, D, device=self.device, dtype=self.dtype)  # (L, W, Hkv, Pc, D)
        v = torch.zeros_like(k)
        bias = torch.full((W, pc), -math.inf, device=self.device)  # (W, Pc)
        logprobs = torch.empty(W, self.vocab_size, device=self.device)  # (W, V)
        last_pos = torch.empty(self.scheme.axes, W, device=self.device, dtype=torch.long)  # (A, W)
        for w, p in enumerate(prompts):
            logprobs[w], last_pos[:, w] = self._prefill_one(p, k[:, w], v[:, w])
            bias[w, : len(p)] = 0.0
        lengths = torch.tensor([len(p) for p in prompts], device=self.device)
        last_tok = torch.tensor([p[-1] for p in prompts], device=self.device)
        return Prefix(k, v, bias, lengths, logprobs, last_pos, last_tok, [list(p) for p in prompts])

    def forward(self, st: _State, tok: torch.Tensor, window: int, pos: torch.Tensor, head: bool = True) -> torch.Tensor:
        """Feed `tok` (B, T) at completion slots t..t+T-1 of every row, at model positions `pos` (A, B, T);
        log-probs (B, T, V), or with `head=False` the final hidden states (B, T, E)."""
        B, T = tok.shape
        W, pc = st.pre_bias.shape
        n, g = B // W, self.n_heads // self.n_kv
        Hkv, D = self.n_kv, self.head_dim
        offs = st.t + torch.arange(T, device=self.device)  # (T,) completion slots written now
        x = self.body.embed_tokens(tok)  # (B, T, E)
        cos, sin = self.scheme.rope(self.body, x, pos)  # (B, T, D)
        own_bias = torch.where(torch.arange(window, device=self.device)[None] <= offs[:, None], 0.0, -math.inf)  # (T, Gw)
        own_bias = own_bias.repeat(g, 1)  # (g*T, Gw), rows ordered (group, position)
        pre_bias = st.pre_bias[:, None, None, :]  # (W, 1, 1, Pc)
        for i, layer in enumerate(self.layers):
            attn = layer.self_attn
            q, k, v = self._qkv(attn, layer.input_layernorm(x), cos, sin)  # (B, H, T, D), (B, Hkv, T, D)
            st.own_k[i].index_copy_(2, offs, k)
            st.own_v[i].index_copy_(2, offs, v)
            ok, ov = st.own_k[i, :, :, :window], st.own_v[i, :, :, :window]  # (B, Hkv, Gw, D)
            qv = q.reshape(W, n, Hkv, g * T, D).transpose(1, 2).reshape(W, Hkv, n * g * T, D)  # rows of one prompt together
            s_pre = (qv @ st.pre_k[i].transpose(-1, -2)).float() * self.scale + pre_bias  # (W, Hkv, n*g*T, Pc)
            s_pre = s_pre.view(W, Hkv, n, g * T, pc).transpose(1, 2).reshape(B, Hkv, g * T, pc)
            s_own = (q.reshape(B, Hkv, g * T, D) @ ok.transpose(-1, -2)).float() * self.scale + own_bias  # (B, Hkv, g*T, Gw)
            p = torch.softmax(torch.cat([s_pre, s_own], dim=-1), dim=-1).to(self.dtype)  # (B, Hkv, g*T, Pc+Gw)
            p_pre = p[..., :pc].reshape(W, n, Hkv, g * T, pc).transpose(1, 2).reshape(W, Hkv, n * g * T, pc)
            a_pre = (p_pre @ st.pre_v[i]).view(W, Hkv, n, g * T, D).transpose(1, 2).reshape(B, Hkv, g * T, D)
            a = a_pre + p[..., pc:] @ ov  # (B, Hkv, g*T, D)
            a = a.reshape(B, self.n_heads, T, D).transpose(1, 2).reshape(B, T, -1)  # (B, T, H*D)
            x = x + attn.o_proj(a)
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return self._head(x) if head else x  # (B, T, V) or (B, T, E)

    def _norm(self, norm: Any, x: torch.Tensor) -> torch.Tensor:
        """The model's RMSNorm as one fused op (the Hugging Face module is seven elementwise kernels)."""
        return F.rms_norm(x, (x.shape[-1],), norm.weight, norm.variance_epsilon)

    def _decode_layer(self, layer: Any, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cos_q: torch.Tensor,
                      sin_q: torch.Tensor, bias: torch.Tensor, pre_k: torch.Tensor, pre_v: torch.Tensor, own_k: torch.Tensor,
                      own_v: torch.Tensor, t: torch.Tensor, window: int) -> torch.Tensor:
        """One decoder layer of `_decode` (the unit `compile` compiles): writes the row's K/V at `t` into `own_k`/`own_v`
        (B, Hkv, G, D) and returns the new x (B, E). cos, sin: (B, 1, D) folded rotation; cos_q, sin_q: the same times
        the attention scale; bias: (W, 1, 1, 1, Pc+Gw); pre_k, pre_v: (W, Hkv, Pc, D) this layer's prompt K/V."""
        B = x.shape[0]
        W, pc = pre_k.shape[0], pre_k.shape[2]
        n, g = B // W, self.n_heads // self.n_kv
        H, Hkv, D = self.n_heads, self.n_kv, self.head_dim
        half = D // 2
        attn = layer.self_attn
        h = self._norm(layer.input_layernorm, x)  # (B, E)
        q = attn.q_proj(h).view(B, H, D)  # (B, H, D)
        k = attn.k_proj(h).view(B, Hkv, D)  # (B, Hkv, D)
        v = attn.v_proj(h).view(B, Hkv, 1, D)  # (B, Hkv, 1, D)
        if hasattr(attn, "q_norm"):  # Qwen3 normalises each head before the rotation
            q, k = attn.q_norm(q), attn.k_norm(k)
        q = torch.addcmul(q * cos_q, torch.roll(q, half, -1), sin_q)  # (B, H, D) rotated and scaled
        k = torch.addcmul(k * cos, torch.roll(k, half, -1), sin)  # (B, Hkv, D) rotated
        own_k.index_copy_(2, t[None], k[:, :, None])  # own_k: (B, Hkv, G, D)
        own_v.index_copy_(2, t[None], v)
        ok, ov = own_k[:, :, :window], own_v[:, :, :window]  # (B, Hkv, Gw, D)
        qv = q.view(W, n, Hkv, g, D).transpose(1, 2).reshape(W, Hkv, n * g, D)  # rows of one prompt together
        s_pre = (qv @ pre_k.transpose(-1, -2)).view(W, Hkv, n, g, pc).transpose(1, 2)  # (W, n, Hkv, g, Pc)
        s_own = (q.view(B, Hkv, g, D) @ ok.transpose(-1, -2)).view(W, n, Hkv, g, window)  # (W, n, Hkv, g, Gw)
        p = torch.softmax(torch.cat([s_pre, s_own], dim=-1) + bias, dim=-1)  # (W, n, Hkv, g, Pc+Gw)
        p_pre = p[..., :pc].transpose(1, 2).reshape(W, Hkv, n * g, pc)  # (W, Hkv, n*g, Pc)
        a = (p_pre @ pre_v).view(W, Hkv, n, g, D).transpose(1, 2).reshape(B * Hkv, g, D)  # (B*Hkv, g, D)
        a.baddbmm_(p[..., pc:].reshape(B * Hkv, g, window), ov.reshape(B * Hkv, window, D))  # + own part, one GEMM
        x = x + attn.o_proj(a.view(B, H * D))  # (B, E)
        return x + layer.mlp(self._norm(layer.post_attention_layernorm, x))  # (B, E)

    def _layer(self, layer: Any, *args: Any) -> torch.Tensor:
        """`_decode_layer`, compiled when `compile` asks; a compiled call that raises logs once and the uncompiled
        body reruns the layer (its cache write is idempotent), as every later one does."""
        if self._compiled_layer is not None:
            try:
                return self._compiled_layer(layer, *args)
            except COMPILE_ERRORS as err:
                self._fall_back(f"the compiled decode layer ({self.compile})", err)
                self._compiled_layer = None
        return self._decode_layer(layer, *args)

    def _decode(self, st: _State, window: int) -> torch.Tensor:
        """`forward` for one token per row (`st.tok` at completion position `t`) in fewer kernels; log-probs (B, V)."""
        W = st.pre_bias.shape[0]
        half = self.head_dim // 2
        x = self.body.embed_tokens(st.tok[:, 0])  # (B, E)
        cos, sin = self.scheme.rope(self.body, x[:, None], st.pos[:, :, None])  # (B, 1, D)
        sin = torch.cat([-sin[..., :half], sin[..., half:]], dim=-1)  # (B, 1, D) rotate_half(x) * sin == roll(x) * this
        cos_q, sin_q = cos * self.scale, sin * self.scale  # (B, 1, D) the attention scale folded into q's rotation
        own = torch.where(torch.arange(window, device=self.device) <= st.t, 0.0, -math.inf)  # (Gw,)
        bias = torch.cat([st.pre_bias, own.expand(W, window)], dim=-1).to(self.dtype)[:, None, None, None]  # (W, 1, 1, 1, Pc+Gw)
        for i, layer in enumerate(self.layers):
            x = self._layer(layer, x, cos, sin, cos_q, sin_q, bias, st.pre_k[i], st.pre_v[i], st.own_k[i], st.own_v[i], st.t, window)  # (B, E)
        return torch.log_softmax(self.lm.lm_head(self._norm(self.body.norm, x)).float(), dim=-1)  # (B, V)

    def _advance(self, st: _State) -> None:
        """Move `st.pos` to the position of `st.tok`, the token fed now, and remember it as the last token."""
        tok = st.tok[:, 0]  # (B,)
        st.pos.copy_(self.scheme.step(st.pos, st.prev, tok))  # (A, B)
        st.prev.copy_(tok)

    def _next_logprobs(self, st: _State, window: int) -> torch.Tensor:
        """Log-probs (B, V) after feeding `st.tok` at slot `t` and position `st.pos`: the fused step, or `forward`."""
        return self._decode(st, window) if self.fused else self.forward(st, st.tok, window, st.pos[:, :, None])[:, 0]

    def _sample_step(self, st: _State, window: int) -> None:
        """Choose each row's token from `st.lp`, record it, feed it, advance `t` (all on the device)."""
        gumbel = -st.noise.log() * st.sampled  # (B, V)
        tok = torch.argmax(st.lp * (1 + (st.inv_temp - 1) * st.sampled) + gumbel, dim=-1)  # (B,)
        tok = torch.where(st.done, st.eos, tok)
        st.total.add_(torch.where(st.done, 0.0, st.lp.gather(1, tok[:, None])[:, 0]))
        st.out.index_copy_(1, st.t[None], tok[:, None])
        st.done.logical_or_(tok == st.eos)
        st.tok.copy_(tok[:, None])
        self._advance(st)
        st.lp.copy_(self._next_logprobs(st, window))
        st.t.add_(1)

    def _feed_step(self, st: _State, window: int) -> None:
        self._advance(st)
        st.lp.copy_(self._next_logprobs(st, window))

    def _fall_back(self, what: str, err: BaseException) -> None:
        msg = f"engine: {what} failed ({type(err).__name__}: {err}); falling back"
        self.fallbacks.append(msg)
        log.warning(msg)

    def _eager(self, st: _State, kind: str, window: int) -> None:
        """One step without a graph; a shape's first fused step is guarded (on failure: log, restore, `forward`)."""
        fn = self._sample_step if kind == "sample" else self._feed_step
        if not self.fused or st.fused_ok:
            fn(st, window)
            return
        saved = st.snapshot()
        try:
            fn(st, window)
            st.fused_ok = True
        except _STEP_ERRORS as err:
            self._fall_back("the fused decode step", err)
            self.fused = False
            st.restore(saved)
            fn(st, window)

    def _capture(self, st: _State, kind: str, window: int) -> torch.cuda.CUDAGraph | None:
        """Capture one step as a CUDA graph; None (logged, graphs off for good) if capture fails, unless strict."""
        fn = self._sample_step if kind == "sample" else self._feed_step
        saved = st.snapshot()
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self._eager(st, kind, window)  # warm-up outside the graph (lazy inits, autotuning, the fused-step check)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self._pool):
                fn(st, window)
            torch.cuda.synchronize()
        except _STEP_ERRORS as err:
            if self.strict:
                raise
            self._fall_back(f"CUDA graph capture ({kind}, rows {st.tok.shape[0]}, window {window})", err)
            self.graphs = False
            for other in self._states.values():
                other.graphs.clear()
            st.restore(saved)
            return None
        st.restore(saved)  # capture and warm-up ran the step: undo them, then replay it for real
        return graph

    def _run(self, st: _State, kind: str, window: int) -> None:
        if self.graphs:
            graph = st.graphs.get((kind, window))
            if graph is None:
                graph = self._capture(st, kind, window)
                if graph is not None:
                    st.graphs[(kind, window)] = graph
            if graph is not None:
                graph.replay()
                return
        self._eager(st, kind, window)

    def _state(self, width: int, rows: int, pc: int, capacity: int) -> _State:
        params = tuple(p.data_ptr() for p in self.model.parameters())
        if params != self._params:  # a parameter was replaced: captured graphs would read stale memory
            self._states.clear()
            self._params = params
        capacity = _round_up(capacity, WINDOW_BUCKET) if self.graphs else capacity  # shapes shared by tasks of similar size
        key = (width, rows, pc, capacity)
        if key not in self._states:
            while len(self._states) >= self.max_states:
                self._states.pop(next(iter(self._states)))
            self._states[key] = _State(self, width, rows, pc, capacity)
        return self._states[key]

    def _window(self, upto: int, capacity: int) -> int:
        return min(capacity, _round_up(upto, WINDOW_BUCKET))

    # ---- public operations ----

    @torch.inference_mode()
    def generate(self, prefix: Prefix, n: int, max_new: int, eos: int, temperature: float = 1.0, greedy_first: bool = True,
                 deadline: float = math.inf, seed: int = 0, min_ended: int = 0) -> list[list[tuple[list[int], float]]]:
        """`n` continuations of every prompt in `prefix` (see module doc)."""
        if n < 1 or max_new < 1 or temperature <= 0:
            raise ValueError(f"generate: need n >= 1, max_new >= 1, temperature > 0; got {n}, {max_new}, {temperature}")
        W = prefix.width
        B = W * n
        st = self._state(W, B, prefix.k.shape[3], max_new)
        st.load(prefix, n)
        greedy = (torch.arange(B, device=self.device) % n == 0) & greedy_first  # (B,)
        st.sampled.copy_((~greedy).float()[:, None])
        st.inv_temp.fill_(1.0 / temperature)
        st.eos.fill_(eos)
        st.t.zero_()
        st.done.zero_()
        st.total.zero_()
        st.out.fill_(eos)
        gen = torch.Generator(device=self.device).manual_seed(seed)
        sampling = bool(st.sampled.any())
        steps = 0
        for t in range(max_new):
            if sampling:
                st.noise.exponential_(generator=gen)
            self._run(st, "sample", self._window(t + 1, st.out.shape[1]))
            steps = t + 1
            if t % 8 == 7 and (bool(st.done.all()) or (time.time() >= deadline and (min_ended == 0 or int(st.done.sum()) >= min_ended))):
                break
        out, total, done = st.out[:, :steps].tolist(), st.total.tolist(), st.done.tolist()
        results: list[list[tuple[list[int], float]]] = [[] for _ in range(W)]
        for r in range(B):
            ids = out[r][: out[r].index(eos) + 1] if done[r] else out[r]
            results[r // n].append((ids, total[r]))
        return results

    @torch.inference_mode()
    def dfs(self, prefix: Prefix, view: int, eos: int, threshold: float, max_len: int, max_candidates: int,
            deadline: float = math.inf) -> tuple[list[tuple[list[int], float]], SearchStats]:
        """Every completion of prompt `view` with probability >= threshold (see `search.dfs`)."""
        one = prefix.select(view)
        st = self._state(1, 1, one.k.shape[3], max_len)
        st.load(one, 1)
        engine = self
        path = [(one.last_pos.clone(), one.last_tok.clone())]  # path[d]: (position, token) before depth d

        class _Stepper:
            def root(self) -> list[float]:
                return one.logprobs[0].tolist()

            def step(self, token: int, depth: int) -> list[float]:
                del path[depth + 1 :]  # the ancestors of this node are exactly path[: depth + 1]
                st.pos.copy_(path[depth][0])
                st.prev.copy_(path[depth][1])
                st.tok.fill_(token)
                st.t.fill_(depth)
                engine._run(st, "feed", st.out.shape[1])  # one row: reading the whole own buffer is cheap, one graph
                path.append((st.pos.clone(), st.prev.clone()))
                return st.lp[0].tolist()

        return dfs(_Stepper(), eos, threshold, max_len, max_candidates, deadline)

    @torch.inference_mode()
    def trace(self, prefix: Prefix, view: int, tokens: Sequence[int]) -> torch.Tensor:
        """Log-probabilities (len(tokens), V) after feeding each of `tokens` in turn by decode steps (the DFS path)."""
        if not tokens:
            raise ValueError("trace needs at least one token")
        one = prefix.select(view)
        st = self._state(1, 1, one.k.shape[3], len(tokens))
        st.load(one, 1)
        out = []
        for depth, token in enumerate(tokens):
            st.tok.fill_(token)
            st.t.fill_(depth)
            self._run(st, "feed", st.out.shape[1])
            out.append(st.lp[0].clone())
        return torch.stack(out)  # (T, V)

    def score(self, prefix: Prefix, view: int, completions: Sequence[Sequence[int]]) -> list[float]:
        """Sum of log-probabilities of each completion after prompt `view` (teacher forcing, `teacher.score`)."""
        return teacher.score(self, prefix, view, completions)

    def cached_bytes(self) -> int:
        """Bytes the cached decode states hold (kept between calls so their CUDA graphs replay)."""
        return sum(st.nbytes() for st in self._states.values())

    def release(self) -> None:
        """Drop every cached decode state and its CUDA graphs; their memory goes back to the allocator."""
        self._states.clear()
