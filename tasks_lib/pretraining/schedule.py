"""Pretraining's learning-rate schedules: pure functions of where the run and its session stand (`Clock`).

A session is one call of `tasks_lib.pretraining.pretrain.pretrain`; the lr is `cfg.lr * lr_factor(cfg, clock)`.
With m = `min_lr_ratio`, W = `warmup_steps`:

cosine: one planned run that sessions split (a run cut into sessions ends where one long run would):

    progress = max(step / max_steps, train_seconds / max_seconds)     # over all sessions; a cap of 0 is left out
    factor   = min(1, (step + 1) / W) * (m + (1 - m) * (1 + cos(pi * min(1, progress))) / 2)

wsd (warm-up, stable, decay): a run that keeps going. Every session ends decayed, so each export is usable, and
the next session warms up again from where it ended; a larger `max_seconds` (or 0: no cap) extends the run:

    budget_steps   = max_steps - start_step               # inf when max_steps = 0
    budget_seconds = min(session_seconds,
                         max_seconds - start_seconds,     # left out when max_seconds = 0
                         s + wall_left)                   # inf when wall_seconds = 0
    q      = max(k / budget_steps, s / budget_seconds)    # k steps and s training seconds into this session
    warm   = min(1, f0 + (1 - f0) * (k + 1) / W)          # f0: lr / peak where the previous session ended, 0 when fresh
    x      = clamp((q - (1 - d)) / d, 0, 1)               # d = decay_fraction: the last d of this session's budget
    factor = min(warm, m + (1 - m) * (1 - sqrt(x)))

start_step and start_seconds are the run's totals when the session began; wall_left is the wall time the call has
left before `wall_seconds`, less the reserve for its last save, read before each step. Training seconds advance no
faster than the wall clock, so s + wall_left only shrinks (by the time checkpoints take, or when the reserve grows):
q never goes back, and a call whose setup took long trains less but still ends decayed, at the moment the wall cut
stops it. Only a crash (or a save slower than its reserve) ends a session before its decay's end, and
`ended_decayed` says so.

Warming up from f0 rather than from 0 keeps the lr continuous across sessions: after a decayed session it climbs
from the floor back to the peak, after a session cut in its stable phase (f0 = 1) there is no warm-up, and after a
cosine session it climbs from where the cosine stood. The decay is 1-sqrt, not linear: at the same length it ends
at a lower loss than a linear decay and matches a full cosine with a 20% decay window (Hägele et al. 2024, "Scaling
Laws and Compute-Optimal Training Beyond Fixed Training Durations"). The `min` of the two ramps ends a session too
short for both at or below the floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tasks_lib.pretraining.config import PretrainConfig

SCHEDULES = ("cosine", "wsd")
TOLERANCE = 1e-9  # float sums of step times: a budget reached to within this counts as reached


@dataclass(frozen=True)
class Clock:
    """Where the run stands before its next step: totals over all sessions, and this session's share of them."""

    step: int  # optimizer steps the run has taken, all sessions
    train_seconds: float  # training seconds of the run, all sessions
    session_steps: int = 0  # of them, this session's
    session_seconds: float = 0.0
    start_factor: float = 0.0  # lr / peak lr the previous session ended at; 0 for a fresh run
    wall_left: float = math.inf  # wall seconds the call has left to train (wall_seconds less time spent and the last save's reserve)

    @property
    def start_step(self) -> int:
        return self.step - self.session_steps

    @property
    def start_seconds(self) -> float:
        return self.train_seconds - self.session_seconds


def resolve(schedule: str, saved_config: dict | None) -> str:
    """The schedule a session runs: `auto` keeps the one a resumed run's checkpoint recorded (`cosine` for a
    checkpoint from before schedules were recorded) and gives a fresh run (`saved_config` None) `wsd`."""
    if schedule != "auto":
        return schedule
    if saved_config is None:
        return "wsd"
    return saved_config.get("schedule", "cosine")


def run_progress(cfg: PretrainConfig, clock: Clock) -> float:
    """max(step / max_steps, train_seconds / max_seconds) over the caps that are set; the run is done at 1."""
    parts = [0.0]
    if cfg.max_steps:
        parts.append(clock.step / cfg.max_steps)
    if cfg.max_seconds:
        parts.append(clock.train_seconds / cfg.max_seconds)
    return max(parts)


def session_budget(cfg: PretrainConfig, clock: Clock) -> tuple[float, float]:
    """(steps, training seconds) this session may spend: the run's caps less what earlier sessions spent,
    `session_seconds`, and what it spent plus the wall time it has left; inf steps when there is no step cap."""
    steps = cfg.max_steps - clock.start_step if cfg.max_steps else math.inf
    seconds = min(cfg.session_seconds, clock.session_seconds + clock.wall_left)
    if cfg.max_seconds:
        seconds = min(seconds, cfg.max_seconds - clock.start_seconds)
    return steps, seconds


def session_progress(cfg: PretrainConfig, clock: Clock) -> float:
    """q = max(k / budget_steps, s / budget_seconds); inf when the session has no budget at all."""
    steps, seconds = session_budget(cfg, clock)
    if steps <= 0 or seconds <= 0:
        return math.inf
    return max(clock.session_steps / steps, clock.session_seconds / seconds)


def cosine_factor(step: int, progress: float, warmup_steps: int, min_lr_ratio: float) -> float:
    """Linear warm-up over `warmup_steps` of the run, then cosine from 1 to `min_lr_ratio` as progress goes 0 -> 1."""
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return warm * (min_lr_ratio + (1 - min_lr_ratio) * cosine)


def wsd_factor(session_steps: int, q: float, start_factor: float, warmup_steps: int, min_lr_ratio: float, decay_fraction: float) -> float:
    """Warm-up from `start_factor` to 1 over this session's first `warmup_steps`, the peak, then 1-sqrt decay to
    `min_lr_ratio` over the last `decay_fraction` of the session (q: its progress, module doc)."""
    f0 = min(1.0, max(0.0, start_factor))
    warm = min(1.0, f0 + (1 - f0) * (session_steps + 1) / warmup_steps) if warmup_steps else 1.0
    x = min(1.0, max(0.0, (q - (1 - decay_fraction)) / decay_fraction))
    return min(warm, min_lr_ratio + (1 - min_lr_ratio) * (1 - math.sqrt(x)))


def lr_factor(cfg: PretrainConfig, clock: Clock) -> float:
    """The lr of the next step over the peak `cfg.lr`, by `cfg.schedule` (`cosine` or `wsd`, resolved; module doc)."""
    if cfg.schedule == "cosine":
        return cosine_factor(clock.step, run_progress(cfg, clock), cfg.warmup_steps, cfg.min_lr_ratio)
    if cfg.schedule == "wsd":
        return wsd_factor(clock.session_steps, session_progress(cfg, clock), clock.start_factor, cfg.warmup_steps, cfg.min_lr_ratio,
                          cfg.decay_fraction)
    raise ValueError(f"pretrain.schedule={cfg.schedule!r}: resolve it first (expected one of {SCHEDULES})")


def ended_decayed(cfg: PretrainConfig, end: Clock, last: Clock | None) -> bool:
    """Whether a session that stops at `end`, its last step taken at `last` (None: it took none), ran its decay to
    the end: under wsd it spent its whole budget (a crash stops it short) and its last step was in the decay
    window (a session of a few steps may have none there); under cosine the run reached its end."""
    if last is None:
        return False
    if cfg.schedule == "wsd":
        return session_progress(cfg, end) >= 1 - TOLERANCE and session_progress(cfg, last) > 1 - cfg.decay_fraction
    return run_progress(cfg, end) >= 1 - TOLERANCE


def describe(cfg: PretrainConfig) -> str:
    """One line for the model card: the schedule of `cfg` (resolved) in words."""
    floor = f"{cfg.lr * cfg.min_lr_ratio:g}"
    if cfg.schedule == "wsd":
        caps = [f"{cfg.max_seconds:g} training seconds" if cfg.max_seconds else "", f"{cfg.max_steps} steps" if cfg.max_steps else ""]
        cap = " or ".join(c for c in caps if c) or "no cap: every session adds to it"
        return (f"warm-up, stable, decay (wsd): each session warms up over {cfg.warmup_steps} steps from the lr the previous "
                f"one ended at (from 0 for a fresh run), holds the peak lr {cfg.lr:g}, and decays (1-sqrt) to {floor} over the "
                f"last {cfg.decay_fraction:.0%} of its training budget (at most {cfg.session_seconds:g} s), so every session's "
                f"export is decayed; run length {cap}")
    horizon = " or ".join(c for c in [f"{cfg.max_seconds:g} training seconds" if cfg.max_seconds else "",
                                       f"{cfg.max_steps} steps" if cfg.max_steps else ""] if c)
    return f"peak lr {cfg.lr:g}, {cfg.warmup_steps} warm-up steps, cosine to {floor} over {horizon} (all sessions)"
