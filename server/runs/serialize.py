"""Values made JSON-native: what the registry stores and events carry."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np

__all__ = ["json_ready"]


def json_ready(value: Any) -> Any:
    """numpy and datetime values to JSON-native ones, recursively."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
