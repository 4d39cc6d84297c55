"""Running tasks: a run's preparation, budgets, GPU slots and their workers, the task loop, and the submission.

Owns: the run (`run`: prepare, record, finish), the one task loop and its failure policy (`pipeline`), one task's
steps (`solve`) and refinements (`refine`), budgets (`budget`), GPU leases and the slot pool (`slots`, parent side;
`worker`, the slot process), the submission file (`submission`), the training arithmetic of report.json
(`compute`), sweep points (`sweep_points`), and detached background services (`services`, for flows/control_room.py).
May import: every floor below (arc, config, adapting, reports, decoding), never `tasks_lib.pretraining` beside it.
"""
