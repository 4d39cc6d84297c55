"""The learning-rate schedules as pure functions (tasks_lib/pretraining/schedule.py's formulas): a table of where a run
and its session stand against the lr factor each schedule gives there, and which schedule a session runs."""

from __future__ import annotations

import math

import pytest

from tasks_lib.pretraining.config import PretrainConfig
from tasks_lib.pretraining.schedule import Clock, ended_decayed, lr_factor, resolve, session_budget, session_progress

# m = 0.1, W = 10 steps, d = 0.2, sessions of 100 s: the decay window is a session's last 20 s
WSD = dict(out="x", schedule="wsd", warmup_steps=10, min_lr_ratio=0.1, decay_fraction=0.2, session_seconds=100.0, max_steps=0, max_seconds=0.0)
MID_DECAY = 0.1 + 0.9 * (1 - math.sqrt(0.5))  # halfway through the decay window: 1-sqrt, not linear (0.55)


@pytest.mark.parametrize(
    "fields, clock, factor",
    [
        # Clock(step, train_seconds, session_steps, session_seconds, start_factor): the run's totals, then this session's
        ({}, Clock(0, 0.0, 0, 0.0, 0.0), 0.1),  # fresh run, first step: 1/W of the peak
        ({}, Clock(4, 2.0, 4, 2.0, 0.0), 0.5),  # fresh run, warming up
        ({}, Clock(9, 5.0, 9, 5.0, 0.0), 1.0),  # warm-up done
        ({}, Clock(50, 50.0, 50, 50.0, 0.0), 1.0),  # stable phase
        ({}, Clock(80, 80.0, 80, 80.0, 0.0), 1.0),  # decay window starts at 1 - d of the session
        ({}, Clock(90, 90.0, 90, 90.0, 0.0), MID_DECAY),  # decay window, halfway
        ({}, Clock(99, 100.0, 99, 100.0, 0.0), 0.1),  # the session's budget spent: the floor
        ({}, Clock(500, 400.0, 0, 0.0, 0.1), 0.19),  # resumed after a decayed session: re-warms from the floor
        ({}, Clock(504, 402.0, 4, 2.0, 0.1), 0.55),  # ... halfway up
        ({}, Clock(509, 405.0, 9, 5.0, 0.1), 1.0),  # ... back at the peak
        ({}, Clock(590, 490.0, 90, 90.0, 0.1), MID_DECAY),  # ... and decays again over its own last 20 s
        ({}, Clock(500, 400.0, 0, 0.0, 1.0), 1.0),  # resumed after a session cut in its stable phase: no warm-up
        ({"warmup_steps": 0}, Clock(500, 400.0, 0, 0.0, 0.1), 1.0),  # no warm-up asked
        # session cut by max_seconds: 450 - 400 s left, so its decay is the last 10 of 50 s
        ({"max_seconds": 450.0}, Clock(600, 440.0, 100, 40.0, 1.0), 1.0),
        ({"max_seconds": 450.0}, Clock(600, 445.0, 100, 45.0, 1.0), MID_DECAY),
        ({"max_seconds": 450.0}, Clock(600, 450.0, 100, 50.0, 1.0), 0.1),
        # the wall clock caps the session: 10 s of wall time left after 40 s of training, so its decay is the last 10 of 50 s
        ({}, Clock(140, 40.0, 140, 40.0, 1.0, wall_left=10.0), 1.0),
        ({}, Clock(145, 45.0, 145, 45.0, 1.0, wall_left=5.0), MID_DECAY),
        ({}, Clock(150, 50.0, 150, 50.0, 1.0, wall_left=0.0), 0.1),  # the wall cut stops it here: decayed
        # steps cap the session: 200 - 100 steps left, decay over the last 20 of them
        ({"max_steps": 200}, Clock(190, 10.0, 90, 10.0, 1.0), MID_DECAY),
        # a session shorter than its warm-up plus decay still ends at the floor (the lower ramp wins)
        ({"session_seconds": 1.0}, Clock(3, 1.0, 3, 1.0, 0.0), 0.1),
        # cosine (the default of runs from before schedules were recorded): the run's warm-up and progress
        ({"schedule": "cosine", "max_seconds": 100.0}, Clock(0, 0.0), 0.1),
        ({"schedule": "cosine", "max_seconds": 100.0}, Clock(9, 0.0), 1.0),
        ({"schedule": "cosine", "max_seconds": 100.0}, Clock(100, 50.0, 10, 10.0, 0.1), 0.55),  # sessions change nothing
        ({"schedule": "cosine", "max_seconds": 100.0}, Clock(100, 100.0), 0.1),
        ({"schedule": "cosine", "max_steps": 200}, Clock(100, 1e6), 0.55),  # steps decide when max_seconds is 0
    ],
)
def test_lr_factor(fields: dict, clock: Clock, factor: float) -> None:
    assert lr_factor(PretrainConfig(**{**WSD, **fields}), clock) == pytest.approx(factor)


def test_session_budget_and_the_decayed_flag() -> None:
    cfg = PretrainConfig(**{**WSD, "max_seconds": 450.0, "max_steps": 1000})
    assert session_budget(cfg, Clock(600, 440.0, 100, 40.0)) == (500, 50.0)  # steps and seconds left when it began
    assert session_budget(PretrainConfig(**WSD), Clock(600, 440.0, 100, 40.0)) == (math.inf, 100.0)
    in_decay = Clock(599, 449.0, 99, 49.0)  # the last step began in the decay window (the last 10 s)
    assert not ended_decayed(cfg, Clock(600, 449.5, 100, 49.5), in_decay)  # cut (wall_seconds) inside its decay
    assert ended_decayed(cfg, Clock(600, 450.0, 100, 50.0), in_decay)
    assert not ended_decayed(cfg, Clock(600, 450.0, 100, 50.0), Clock(599, 430.0, 99, 30.0))  # one long step jumped its decay
    assert not ended_decayed(cfg, Clock(600, 450.0, 100, 50.0), Clock(599, 440.0, 99, 40.0))  # its last step: the window's edge, at the peak
    assert not ended_decayed(cfg, Clock(500, 400.0, 0, 0.0), None)  # took no step
    walled = PretrainConfig(**WSD)  # sessions of 100 s, cut by the wall after 50
    assert ended_decayed(walled, Clock(150, 50.0, 150, 50.0, 1.0, wall_left=0.0), Clock(149, 49.7, 149, 49.7, 1.0, wall_left=0.3))
    assert session_progress(cfg, Clock(600, 450.0, 0, 0.0)) == math.inf  # nothing left to spend
    cosine = PretrainConfig(**{**WSD, "schedule": "cosine", "max_seconds": 450.0})
    assert not ended_decayed(cosine, Clock(600, 440.0, 100, 440.0), in_decay) and ended_decayed(cosine, Clock(600, 450.0, 100, 450.0), in_decay)


def test_auto_keeps_a_resumed_runs_schedule_and_gives_a_fresh_run_wsd() -> None:
    assert resolve("auto", None) == "wsd"
    assert resolve("auto", {"lr": 1e-3}) == "cosine"  # a checkpoint from before schedules were recorded
    assert resolve("auto", {"schedule": "wsd"}) == "wsd"
    assert resolve("wsd", {"schedule": "cosine"}) == "wsd"  # asked for: the run switches
    assert resolve("cosine", None) == "cosine"


def test_config_checks_the_schedule_fields() -> None:
    with pytest.raises(ValueError, match="schedule"):
        PretrainConfig(out="x", schedule="linear")
    with pytest.raises(ValueError, match="decay_fraction"):
        PretrainConfig(out="x", decay_fraction=0.0)
    with pytest.raises(ValueError, match="max_steps"):  # the cosine needs a horizon
        PretrainConfig(out="x", schedule="cosine", max_steps=0, max_seconds=0.0)
    assert PretrainConfig(out="x", schedule="wsd", max_steps=0, max_seconds=0.0).max_seconds == 0  # wsd: sessions add on
