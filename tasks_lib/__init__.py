"""arc-ttt: per-task test-time training for ARC-AGI. The plain library; it never imports prefect."""
