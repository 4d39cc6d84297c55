"""arc-ttt: per-task test-time training for ARC-AGI. The plain library; it never imports prefect.

The floor plan, from the ground up (each sub-package's own docstring says what it owns):

    floor 5   running/      a run: budgets, GPU slots and workers, the task loop, the submission
              pretraining/  the embedded base models: the loop, its data, checkpoints, generated tasks and rules
    floor 4   decoding/     candidates from augmented views, the decode engines, search, the vote
    floor 3   adapting/     the model and its adapter, test-time training and its step strategies
              reports/      what a run shows: the state word, cards, tables, pictures, combined reports
    floor 2   config.py     stage configs and profiles
    floor 1   arc/          tasks and grids, encodings, views, positions, scoring, task records, the run folder

The rule: a module imports modules of its own sub-package and of lower floors, never one of a sibling on its floor
or of a floor above, and no modules import each other in a circle. It counts every import: at the top of a module,
inside a function and under TYPE_CHECKING; tests/test_layers.py holds the code to it. Above the library stand
`flows/` (Prefect), `benchmarks/` and `kaggle/`, which may import any of it; it imports none of them.
"""
