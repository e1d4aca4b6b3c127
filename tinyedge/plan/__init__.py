"""Memory planning: every activation gets an offset in one arena (see memory.py)."""
from .memory import MemoryPlan, activation_lifetimes, align_up, plan_memory

__all__ = ["MemoryPlan", "plan_memory", "activation_lifetimes", "align_up"]
