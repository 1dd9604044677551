"""nessdata: the data layer of ness.OS."""

from .db import Database
from .errors import NessdataError
from .events import EventWriter, emit, emit_many, import_events
from .rollups import aggregate_days, aggregate_default, aggregate_pending, aggregate_range
from .settings import Settings, load_settings

__all__ = [
    "Database", "EventWriter", "NessdataError", "Settings", "aggregate_days",
    "aggregate_default", "aggregate_pending", "aggregate_range", "emit", "emit_many",
    "import_events", "load_settings",
]
