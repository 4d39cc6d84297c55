"""ARC itself: tasks and grids, their text encodings, augmentations, token positions, scoring, a task's records, the run folder.

Owns: loading and validating tasks (`data`), grid <-> tokens (`encoding`), prompt formats (`prompt_formats`), the
views (`augment`), token positions and the `arc_grid` model type (`positions`, `grid_model`), pass@2 scoring
(`scoring`), the records a task leaves in the run folder (`records`: its result, its train and sample steps,
candidates and refinements, with their JSON forms), the run's record (`run_record`: report.json, its run-level parts
in `report_parts`), the readers that check a record's JSON field by field (`json_fields`), and the run folder's
atomic files (`store`).
May import: nothing else of tasks_lib (the ground floor).
"""
