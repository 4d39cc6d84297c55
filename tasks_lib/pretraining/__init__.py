"""Pretraining the embedded base models, and the tasks they learn from.

Owns: the pretraining loop and its processes (`pretrain`, `group`), its settings (`config`), its learning-rate
schedules (`schedule`), its data: the ARC training sets minus the held-out evaluation sets, augmented batches
(`pretrain_data`), checkpoints, the sharded export and the model card (`checkpoint`), procedurally generated tasks
(`generate`, families in `generators/`) and fresh examples of ARC training tasks' own rules (`rule_tasks`, rules in
`rules/`).
May import: the floors below (it uses `tasks_lib.arc`, `tasks_lib.config` and `tasks_lib.adapting`), never
`tasks_lib.running` beside it: a run knows nothing of how its model was made.
"""
