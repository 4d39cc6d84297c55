"""Teacher-forced scoring on the decode engine: the log-probability of given completions after a prompt.

Contract: `score(eng, prefix, view, completions)` (what `Engine.score` runs) returns, for each completion, the sum of
its tokens' log-probabilities after prompt `view` of `prefix`. It works in pieces of rows and positions whose attention
scores stay under SCORE_ELEMENTS and logits under LOGIT_ELEMENTS, reads the prompt's K/V in place (a `DecodeState`
sharing the prefix, no graph), and each piece's fed positions write their own K/V for the next piece to attend to.
`eng` is the `tasks_lib.decoding.engine.Engine` (its `forward`, position scheme, head and sizes).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from tasks_lib.decoding.decode_state import DecodeState, Prefix

SCORE_ELEMENTS = 1 << 27  # cap on attention-score elements per scoring piece (512 MiB in float32)
LOGIT_ELEMENTS = 1 << 25  # cap on vocabulary logits per scoring piece (128 MiB in float32; a 152k vocab: ~220 positions)


@torch.inference_mode()
def score(eng: Any, prefix: Prefix, view: int, completions: Sequence[Sequence[int]]) -> list[float]:
    """Sum of log-probabilities of each completion after prompt `view` (teacher forcing), in pieces of rows and
    positions whose attention scores stay under SCORE_ELEMENTS and logits under LOGIT_ELEMENTS: the prompt's K/V
    is read in place and a piece's fed positions write their own K/V for the next piece to attend to."""
    if not completions or any(len(c) == 0 for c in completions):
        raise ValueError("score needs non-empty completions")
    one = prefix.select(view)
    first = one.logprobs[0]  # (V,)
    T = max(len(c) for c in completions)
    pc = one.k.shape[3]
    per_pos = eng.n_heads * (pc + T)  # attention-score elements per row and fed position
    span = max(1, min(T - 1, SCORE_ELEMENTS // per_pos, LOGIT_ELEMENTS // eng.vocab_size))  # positions per piece
    chunk = max(1, min(SCORE_ELEMENTS // (per_pos * span), LOGIT_ELEMENTS // (eng.vocab_size * span)))  # rows
    out: list[float] = []
    for s in range(0, len(completions), chunk):
        part = completions[s : s + chunk]
        ids = torch.tensor([list(c) + [c[-1]] * (T - len(c)) for c in part], device=eng.device)  # (B, T)
        lens = torch.tensor([len(c) for c in part], device=eng.device)  # (B,)
        lp = first[ids[:, 0]]  # (B,)
        if T > 1:
            st = DecodeState(eng, 1, len(part), pc, T, share=one)
            st.load(one, len(part))
            prompt = torch.tensor(one.prompts[0], device=eng.device).expand(len(part), -1)  # (B, P)
            pos = eng.scheme.of_ids(torch.cat([prompt, ids[:, :-1]], 1))[:, :, prompt.shape[1] :]  # (A, B, T-1)
            tok_lp = torch.empty(len(part), T - 1, device=eng.device)  # (B, T-1)
            for a in range(0, T - 1, span):
                b = min(T - 1, a + span)
                st.t.fill_(a)
                x = eng.forward(st, ids[:, a:b], T, pos[:, :, a:b], head=False)  # (B, b-a, E)
                logits = eng.lm.lm_head(eng.body.norm(x)).float()  # (B, b-a, V)
                tok_lp[:, a:b] = logits.gather(2, ids[:, a + 1 : b + 1, None])[..., 0] - logits.logsumexp(-1)
                del x, logits
            keep = torch.arange(1, T, device=eng.device)[None] < lens[:, None]  # (B, T-1)
            lp = lp + (tok_lp * keep).sum(1)
        out.extend(lp.tolist())
    return out

