"""Text the database cannot store: PostgreSQL refuses a NUL character (``\\x00``) in text,
so every API refuses it up front as bad input instead of failing in the database."""

from __future__ import annotations

from typing import Any

__all__ = ["NUL_MESSAGE", "has_nul"]

NUL_MESSAGE = "contains a NUL character (\\x00), which text may not contain"


def has_nul(value: Any) -> bool:
    """True when any string in ``value`` (nested dicts, keys and lists included) holds NUL.
    Iterative, so a deeply nested value cannot exhaust the stack."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False
