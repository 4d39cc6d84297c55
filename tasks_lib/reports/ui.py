"""What a researcher reads about a run, as plain data: the word for each task's outcome, the progress line,
the task cards, the per-task table and the run summary (markdown strings); `flows/common.py` hands them to
Prefect. No Prefect here, so all of it is testable directly. A task's result is a `records.TaskResult`; every
function here also takes its JSON form (a report.json `tasks` entry), read through `records.as_result`; a run's
report likewise is a `run_record.Report` or report.json's content, read through `run_record.as_report`.

Contract:
- `task_state(result)` is THE word for a task's outcome, one of `STATES`; the flow's subflow state, the
  cards, the tables, the logs and `report.json` (`state` per task, `states` per run) all use it:
  - `solved`: solutions are known and every test output is matched by one of its two attempts (this wins
    over the others: a task solved despite a failed step is solved, its error still shown);
  - `failed`: a step raised, the task was invalid, or the subflow could not run (its `error` says why);
  - `fallback`: some test input got no candidate from the model, so its attempts are model-free guesses
    (also a task the run never reached);
  - `unsolved`: candidates came back, solutions are known, not every test output is matched;
  - `unscored`: candidates came back, no solutions to score against.
- `fallback_reason(task, result)` says, in one sentence, why some of a task's attempts are guesses (None when
  the model answered every test input).
- `progress_text(results, total, seconds_left, wall_seconds)` is "done / total, solved so far", the refinement
  rounds done and what they solved, with the time left while the run is live, or the wall time once it ended.
- `task_line(result)` is a task's one-line log entry; `task_markdown(...)` its card; `results_markdown(report,
  links)` the per-task table; `summary_markdown(...)` the run card. Task ids in run-level tables link to
  `links[task_id]` (the task's card or subflow in the UI) where one is given.
- `headline(report)` is the run in one line (the summary artifact's description).
- `timeline_rows(report, started)` places every piece of work of this run (`work_pieces(result)`: a task's pass 1
  and each refinement round, from their recorded start and end times and slots) on its slot's lane.
- `artifact_key(text)` turns a task id or run name into a valid artifact key; `card_key(run_id, task_id)` is a
  task's card key in one run (its versions are the card's updates).
- `progress_percent(elapsed, budget, finished)` is the share of the run's time budget gone (0-100, 100 once
  finished), so the bar covers pass 1 and the refinement after it.
- `subflow_name(result)` is a task subflow's name once it ended: its id and a mark of its state, so solved and
  unsolved tasks differ at a glance in the run's graph and list; `final_message(report)` is the run's final state
  message ('4/10 solved, score 0.400 (pass 1 0.300)') and `final_name(report)` its name ('4/10 solved, 0.400'), which
  the run list shows on the run's state badge.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from tasks_lib.arc.data import Task
from tasks_lib.arc.records import TaskResult, as_result
from tasks_lib.arc.run_record import Report, as_report

Result = TaskResult | Mapping  # a record, or its JSON form (report.json's `tasks` entries)

STATES = ("solved", "unsolved", "unscored", "fallback", "failed")
STATE_MEANING = {
    "solved": "every test output matched by an attempt",
    "unsolved": "the model answered, not every test output matched",
    "unscored": "the model answered, no solutions to score against",
    "fallback": "some test input got no answer from the model: its attempts are model-free guesses",
    "failed": "a step failed or the task was invalid (see its error)",
}
STOPPED_BY = {
    "steps": "it reached train.max_steps",
    "deadline": "its share of the budget for training ran out",
    "no-data": "no train pair fits in model.max_tokens",
    "shared": "it trains nothing itself (train scope shared: it samples the run's shared adapter)",
    "none": "it trains nothing (train scope none: it samples the base model)",
}

_KEY = re.compile(r"[^a-z0-9-]+")


def artifact_key(text: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    return _KEY.sub("-", text.lower()).strip("-") or "task"


def card_key(run_id: str, task_id: str) -> str:
    """The key of a task's card in run `run_id`: every update of the card is a new version of it."""
    return artifact_key(f"task-{task_id}-{run_id}")


def progress_percent(elapsed: float, budget_seconds: float, finished: bool = False) -> float:
    """The run's progress bar: the share of its time budget gone (pass 1 and refinement both spend it), 100 only
    once the run `finished`; 99.9 at most before."""
    if finished:
        return 100.0
    return 0.0 if budget_seconds <= 0 else round(min(99.9, max(0.0, 100.0 * elapsed / budget_seconds)), 1)


def data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")


def task_state(result: Result) -> str:
    """The one word for a task's outcome (see the module docstring); a task solved despite a failed step is
    `solved` (its card and row still show the error)."""
    result = as_result(result)
    correct = result.correct
    if correct and all(correct):
        return "solved"
    if result.status in ("failed", "invalid"):
        return "failed"
    answered = result.answered
    if result.status == "not-run" or not answered or not all(answered):
        return "fallback"
    return "unscored" if correct is None else "unsolved"


def state_counts(results: Iterable[Result]) -> dict[str, int]:
    """How many tasks ended in each state, in `STATES` order, zeros left out."""
    words = [task_state(r) for r in results]
    return {s: words.count(s) for s in STATES if s in words}


def _grid_word(grid: Sequence[Sequence[int]], task: Task | None) -> str:
    g = [list(r) for r in grid]
    if task is not None:
        if any(g == [list(r) for r in t] for t in task.test_inputs):
            return "a copy of the test input"
        if task.train and g == [list(r) for r in task.train[0].output]:
            return "the train outputs' common grid"
    return f"a {len(g)}x{len(g[0])} grid of {'0' if all(v == 0 for r in g for v in r) else 'colours'}"


def fallback_reason(task: Task | None, result: Result) -> str | None:
    """Why some attempts of a task are model-free guesses (the test inputs the model gave no candidate for), naming
    the guesses; None when the model answered every test input. A `fallback` task always has one; a task can also
    be `solved` or `failed` with guesses."""
    result = as_result(result)
    answered = result.answered
    if result.status != "not-run" and answered and all(answered):
        return None
    if result.status == "not-run":
        return "the run ended before this task started, so its attempts are model-free guesses"
    missing = [i for i, ok in enumerate(answered) if not ok] or list(range(len(result.attempts)))
    stats = result.sample_stats
    generated, malformed = stats.generated, stats.malformed
    if result.sample is None:
        why = "sampling did not run"
    elif generated == 0:
        why = "sampling generated nothing" + (" before its deadline" if stats.stopped_by == "deadline" else "")
    elif malformed >= generated:
        why = f"all {generated} samples were malformed (not a grid)"
    else:
        why = f"none of the {generated - malformed} well-formed samples was for this test input"
    attempts = result.attempts
    guesses = []
    for i in missing:
        if i < len(attempts):
            a = attempts[i]
            guesses.append(f"test {i}: {_grid_word(a.attempt_1, task)}, then {_grid_word(a.attempt_2, task)}")
    return f"{why}, so the attempts are model-free guesses ({'; '.join(guesses)})"


def refinement_counts(results: Iterable[Result]) -> tuple[int, int, int]:
    """(refinement rounds done, tasks refined, tasks solved now whose pass-1 answer was not right)."""
    rounds = refined = gained = 0
    for r in map(as_result, results):
        n = len(r.refinements)
        rounds += n
        refined += n > 0
        first = r.pass1.correct if r.pass1 else None
        gained += n > 0 and task_state(r) == "solved" and not (first and all(first))
    return rounds, refined, gained


def progress_text(results: Iterable[Result], total: int, seconds_left: float | None = None, wall_seconds: float | None = None) -> str:
    """'3/10 tasks done, 1 solved (2 unsolved); 420 s left in the budget' while live (`seconds_left`), or
    '...; finished in 512 s' once the run ended (`wall_seconds`). Once refinement ran it says so:
    '10/10 tasks done, 4 solved (6 unsolved); refinement: 12 rounds on 6 tasks, 1 solved by it; 40 s left ...'."""
    results = [as_result(r) for r in results]
    others = ", ".join(f"{n} {s}" for s, n in state_counts(results).items() if s != "solved")
    solved = sum(task_state(r) == "solved" for r in results)
    line = f"{len(results)}/{total} tasks done, {solved} solved" + (f" ({others})" if others else "")
    rounds, refined, gained = refinement_counts(results)
    if rounds:
        line += f"; refinement: {rounds} round{'s' if rounds != 1 else ''} on {refined} task{'s' if refined != 1 else ''}, {gained} solved by it"
    if wall_seconds is not None:
        return f"{line}; finished in {wall_seconds:.0f} s"
    if seconds_left is not None:
        return f"{line}; {seconds_left:.0f} s left in the budget"
    return line


def _correct(result: TaskResult) -> str:
    return "" if result.correct is None else f"{sum(result.correct)}/{len(result.correct)}"


def _seconds(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} s"


def task_line(result: Result) -> str:
    """A task's log line: its state, steps, seconds used of its budget, correct count, error."""
    result = as_result(result)
    parts = [f"{result.steps} steps", f"{_seconds(result.used_seconds)} of {_seconds(result.budget_seconds)}"]
    if result.correct is not None:
        parts.append(f"correct {_correct(result)}")
    if result.error:
        parts.append(f"error: {result.error}")
    return f"{result.task_id}: {task_state(result)} ({', '.join(parts)})"


def _training(result: TaskResult) -> str | None:
    train = result.train
    if train is None:
        return None
    steps, seconds = train.steps, train.seconds
    stopped = STOPPED_BY.get(train.stopped_by, train.stopped_by)
    if not steps:
        return f"training: no steps; stopped because {stopped}"
    loss = "" if train.first_loss is None or train.last_loss is None else f", loss {train.first_loss:.3f} → {train.last_loss:.3f}"
    return f"training: {steps} steps in {seconds:.1f} s ({seconds / steps:.3f} s/step){loss}; stopped because {stopped}"


def _refinement_lines(result: TaskResult) -> list[str]:
    """All training of a refined task (pass 1 and every round), then one line per round."""
    rounds = result.refinements
    if not rounds:
        return []
    first = 0 if result.train is None else result.train.steps
    added = sum(e.steps for e in rounds)
    lines = [f"training in all: {first + added} steps (pass 1: {first}; {len(rounds)} refinement round{'s' if len(rounds) != 1 else ''}: {added})"]
    for e in rounds:
        seconds = sum(e.timings.values())
        correct = f"; correct {sum(e.correct)}/{len(e.correct)} after it" if e.correct is not None else ""
        errors = f"; errors: {'; '.join(e.errors)}" if e.errors else ""
        lines.append(f"refinement {e.round}: slot {'?' if e.slot is None else e.slot}, {seconds:.1f} s of {e.budget_seconds:.1f} s, "
                     f"+{e.steps} steps, {e.views} views, {e.new_candidates} new candidates{correct}{errors}")
    return lines


def _sampling(result: TaskResult) -> str | None:
    sample = result.sample
    if sample is None:
        return None
    s = sample.stats
    text = (f"sampling: {s.generated} samples from {s.views_done} views, {s.malformed} malformed, "
            f"in {s.seconds:.1f} s; {'stopped at its deadline' if s.stopped_by == 'deadline' else 'all views done'}")
    if sample.degraded:
        text += f" (lighter settings after running out of memory: {list(sample.degraded)})"
    return text


def _candidate_table(result: TaskResult, i: int, task: Task) -> list[str]:
    top = result.candidates[i].top if i < len(result.candidates) else ()
    if not top:
        return []
    attempts = result.attempts[i] if i < len(result.attempts) else None
    solution = tuple(tuple(r) for r in task.test_outputs[i]) if task.has_solutions else None
    lines = ["| # | votes | mean log-prob | score | views | size | picked | right |", "|---|---|---|---|---|---|---|---|"]
    for rank, c in enumerate(top, 1):
        picked = "" if attempts is None else "attempt 1" if c.grid == attempts.attempt_1 else ("attempt 2" if c.grid == attempts.attempt_2 else "")
        right = "" if solution is None else ("yes" if c.grid == solution else "no")
        score = "" if c.score is None else f"{c.score:.3f}"
        size = f"{len(c.grid)}x{len(c.grid[0])}"
        lines.append(f"| {rank} | {c.votes} | {c.mean_logprob:.3f} | {score} | {len(c.views)} | {size} | {picked} | {right} |")
    return lines


def task_markdown(task: Task, result: Result, panels: Sequence[bytes], train_png: bytes | None = None,
                  candidate_pngs: Sequence[bytes | None] = ()) -> str:
    """A task's card: its state and why, budget and timings, training and sampling in numbers (pass 1, then all
    training and each refinement round where the task was refined), its train pairs,
    and per test input the labelled picture (input, attempts, solution), the top candidates drawn with their
    votes and their table. Pictures are embedded as data URIs."""
    result = as_result(result)
    state = task_state(result)
    correct = f", correct {_correct(result)}" if result.correct is not None else ""
    timings = result.timings
    lines = [
        f"## Task `{task.id}`: **{state}**{correct}",
        f"*{STATE_MEANING[state]}*\n",
        f"- slot {result.slot}, budget {_seconds(result.budget_seconds)}, used {_seconds(result.used_seconds)}"
        + (" (" + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + ")" if timings else ""),
    ]
    pass1 = [line.replace("training:", "training (pass 1):", 1) if result.refinements else line
             for line in (_training(result), _sampling(result)) if line]
    lines += [f"- {line}" for line in (*pass1, *_refinement_lines(result))]
    reason = fallback_reason(task, result)
    if reason:
        lines.append(f"- **fallback attempts**: {reason}")
    if result.error:
        lines.append(f"- **error**: `{result.error}`")
    if train_png is not None:
        lines.append(f"\n### Train pairs ({len(task.train)}, input above output)\n\n![train pairs of {task.id}]({data_uri(train_png)})\n")
    for i, data in enumerate(panels):
        lines.append(f"\n### Test {i}\n\n![task {task.id} test {i}]({data_uri(data)})\n")
        lines.append("Frames: green right, red wrong, grey unknown.\n")
        picture = candidate_pngs[i] if i < len(candidate_pngs) else None
        if picture is not None:
            lines.append(f"Top candidates with their votes:\n\n![candidates of {task.id} test {i}]({data_uri(picture)})\n")
        lines += _candidate_table(result, i, task)
    return "\n".join(lines)


def _linked(task_id: str, links: Mapping[str, str]) -> str:
    return f"[{task_id}]({links[task_id]})" if task_id in links else f"`{task_id}`"  # the UI shows no code style inside links


def _cell(v: object) -> str:
    return "" if v is None else str(v).replace("|", "\\|").replace("\n", " ")


def results_markdown(report: Report | Mapping, links: Mapping[str, str] | None = None) -> str:
    """The per-task table: task (linked), state, slot, budget, seconds used, steps, candidates, correct, error."""
    links, report = links or {}, as_report(report)
    lines = ["| task | state | slot | budget (s) | used (s) | steps | candidates | correct | error |",
             "|---|---|---|---|---|---|---|---|---|"]
    for t in report.results:
        cells = [_linked(t.task_id, links), task_state(t), t.slot, t.budget_seconds, t.used_seconds,
                 t.steps, sum(c.n for c in t.candidates), _correct(t), t.error]
        lines.append("| " + " | ".join(c if i == 0 else _cell(c) for i, c in enumerate(cells)) + " |")
    return "\n".join(lines)


def _state_after(result: TaskResult, correct: tuple[bool, ...] | None) -> str:
    """The task's state word as it stood with `correct` (pass 1's, or one refinement round's)."""
    return task_state(result.replace(correct=correct)) if result.correct is not None else task_state(result)


def work_pieces(result: Result) -> list[dict]:
    """Every piece of work a task's record says it did, as {work, slot, start, end, state} (absolute seconds):
    pass 1 from its first step's start to its last step's end (`spans`), then each refinement (its `slot` and
    `span`), each coloured by the state the task had once that piece ended. A record without spans (written before
    they were kept) yields no pass-1 piece."""
    result = as_result(result)
    pieces = []
    spans = list(result.spans.values())
    if spans and result.slot is not None:
        first = result.pass1.correct if result.pass1 else result.correct
        pieces.append({"work": "pass 1", "slot": result.slot, "start": min(s[0] for s in spans), "end": max(s[1] for s in spans),
                       "state": _state_after(result, first)})
    for entry in result.refinements:
        if entry.span and entry.slot is not None:
            pieces.append({"work": f"refine {entry.round}", "slot": entry.slot, "start": entry.span[0], "end": entry.span[1],
                           "state": _state_after(result, entry.correct if entry.correct is not None else result.correct)})
    return pieces


def timeline_rows(report: Report | Mapping, started: float) -> list[dict]:
    """What each slot did when: one row per piece of work (`work_pieces`) of every task this run worked on, in seconds
    since `started`, with the task id; resumed and never-run tasks are left out."""
    rows = []
    for t in as_report(report).tasks:
        if t.resumed:
            continue
        for piece in work_pieces(t.result):
            rows.append({**piece, "task": t.task_id, "start": max(0.0, piece["start"] - started), "end": max(0.0, piece["end"] - started)})
    return sorted(rows, key=lambda r: (r["slot"], r["start"]))


def summary_markdown(report: Report | Mapping, out: str, timeline: Sequence[dict], timeline_png: bytes | None,
                     links: Mapping[str, str] | None = None) -> str:
    """The run's card: run id and folder, model, profile, budget, states, solved task ids (linked), score (and what
    refinement added to pass 1's), files, and the timeline (picture and table)."""
    links, report = links or {}, as_report(report)
    score, results = report.score, report.results
    counts = state_counts(results)
    solved = [t.task_id for t in results if task_state(t) == "solved"]
    lines = [
        f"# arc-ttt run `{report.run_id}`",
        f"- folder: `{out}`",
        f"- data: `{report.source}`, {len(results)} tasks; model `{report.model_path or '?'}`; "
        f"profile `{report.profile}`; {report.slots} slot(s)",
        f"- budget: {report.budget_seconds or 0:.0f} s ({report.reserve_seconds or 0:.0f} s reserve); "
        f"wall time {report.wall_seconds:.0f} s",
        f"- states: {', '.join(f'{n} {s}' for s, n in counts.items())}",
    ]
    if score:
        lines.append(f"- **score (Kaggle): {score.kaggle:.3f}** ({score.solved_outputs}/{score.total_outputs} test outputs), "
                     f"per task {score.per_task:.3f}")
    first = report.score_pass1
    if score and first and report.refinements:
        lines.append(f"- refinement: {report.refinements} refinement(s); pass 1 alone scored {first.solved_outputs}/"
                     f"{first.total_outputs}, so refinement added {score.solved_outputs - first.solved_outputs} test output(s)")
    lines.append(f"- solved ({len(solved)}): " + (", ".join(_linked(t, links) for t in solved) if solved else "none"))
    lines.append(f"- files: `{out}/submission.json`, `{out}/report.json`, pictures in `{out}/tasks/<task-id>/test-<i>.png` "
                 f"and `{out}/timeline.png`")
    lines.append("\n" + ("Each task id links to its card. " if links else "") + "; ".join(f"**{s}**: {m}" for s, m in STATE_MEANING.items()) + ".")
    if timeline:
        lines.append("\n## Timeline\n\nOne lane per slot, one bar per piece of work (a task's pass 1, or one refinement round, "
                     "drawn lighter and labelled `r<round>`), coloured by the task's state once it ended.\n")
        if timeline_png is not None:
            lines.append(f"![timeline]({data_uri(timeline_png)})\n")
        lines.append("| slot | task | work | start (s) | end (s) | state |\n|---|---|---|---|---|---|")
        lines += [f"| {r['slot']} | {_linked(r['task'], links)} | {r['work']} | {r['start']:.1f} | {r['end']:.1f} | {r['state']} |"
                  for r in timeline]
    return "\n".join(lines)


def _solved(report: Report) -> str:
    """'2/4 solved'."""
    return f"{sum(task_state(t) == 'solved' for t in report.results)}/{len(report.tasks)} solved"


def headline(report: Report | Mapping) -> str:
    """The run in one line: its id, tasks solved and the Kaggle score when scored ('r1: 2/4 solved, score 0.500')."""
    report = as_report(report)
    score = report.score
    return f"{report.run_id}: {_solved(report)}" + (f", score {score.kaggle:.3f}" if score else "")


STATE_MARK = {"solved": "✔", "unsolved": "✘", "unscored": "●", "fallback": "◌", "failed": "!"}


def subflow_name(result: Result) -> str:
    """'<task-id> ✔ solved': the id, its state's mark and word."""
    result = as_result(result)
    word = task_state(result)
    return f"{result.task_id} {STATE_MARK[word]} {word}"


def final_message(report: Report | Mapping) -> str:
    """The run's final state message: tasks solved of all, the score when scored, what pass 1 alone had when
    refinement changed it ('4/10 solved, score 0.400 (pass 1 0.300)')."""
    report = as_report(report)
    score, first = report.score, report.score_pass1
    text = _solved(report)
    if score:
        text += f", score {score.kaggle:.3f}"
        if first and first.kaggle != score.kaggle:
            text += f" (pass 1 {first.kaggle:.3f})"
    return text


def final_name(report: Report | Mapping) -> str:
    """The run's final state name, what the run list's badge shows: '4/10 solved, 0.400' ('4/10 solved' unscored)."""
    report = as_report(report)
    return _solved(report) + (f", {report.score.kaggle:.3f}" if report.score else "")


def timeline_path(out: str | Path) -> Path:
    return Path(out) / "timeline.png"
