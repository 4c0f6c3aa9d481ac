"""Background loops. Each has run_once(), ticks at a jittered interval, and is safe with N replicas."""
