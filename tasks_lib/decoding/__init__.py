"""Decoding a task's answers: candidates from augmented views, the engines that generate them, and the vote.

Owns: a task's candidates (`sample`: views, backends, parsing, augmented scoring), the decode engine with its own
KV cache and CUDA graphs (`engine`, its state `decode_state`, its torch.compile of the decode layer `compiled`, its
teacher-forced scoring `teacher`), the same interface over a model's own forward (`plain_engine`), depth-first
search (`search`), the optional vLLM backend (`sample_vllm`), and voting with fallbacks (`vote`).
May import: `tasks_lib.arc`, `tasks_lib.config`, `tasks_lib.adapting`.
"""
