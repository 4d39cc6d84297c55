"""ARC itself: tasks and grids, their text encodings, augmentations, token positions, scoring, and the run folder.

Owns: loading and validating tasks (`data`), grid <-> tokens (`encoding`), prompt formats (`prompt_formats`), the
views (`augment`), token positions and the `arc_grid` model type (`positions`, `grid_model`), pass@2 scoring
(`scoring`), and the run folder's atomic files (`store`).
May import: nothing else of tasks_lib (the ground floor).
"""
