"""What a run looks like to a person: the state word of a task, progress, cards, tables, pictures, combined reports.

Owns: the one word per task and everything the UI and logs show (`ui`), PNG pictures drawn with Pillow (`render`),
and several runs' reports added up (`report`). Plain functions over tasks and records: they run nothing.
May import: `tasks_lib.arc`, `tasks_lib.config`.
"""
