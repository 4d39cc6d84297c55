"""Adapting a model to one task: the base model and its adapter, the training loop and its step strategies.

Owns: the resident base model, LoRA (or every weight) and its in-place reset (`model`), test-time training
(`train`, with the step strategies of `train_steps` and the CUDA-graph plumbing of `train_graphs`), one adapter for
every task (`shared_adapter`), LoRA merge with exact restore (`merge`), device memory plans (`memory`), and which
model families the fast paths run (`families`).
May import: `tasks_lib.arc`, `tasks_lib.config`.
"""
