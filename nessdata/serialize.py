"""JSON for the CLI and the API: Decimal as a string (never a float), dates in ISO."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Fixed-point always: str() writes 0E-8 for a zero with 8 places.
        return format(value, "f")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def dumps(value: Any, **options) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, **options)
