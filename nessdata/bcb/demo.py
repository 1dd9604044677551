"""BCB rates for `nessdata demo`: the stub serving the recorded bodies shipped in
demo_data/, so the demo syncs rates through the real code path with no network."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ..db import Database
from ..settings import Settings
from .stub import BcbStub
from .sync import SyncReport, sync_rates

DEMO_DATA = Path(__file__).parent / "demo_data"
# The recorded bodies hold 2021-01 to 2022-01 for the daily rates and 2021-01 to
# mid-2026 for IPCA and IGP-M; the demo syncs from their start up to today.
DEMO_SINCE = date(2021, 1, 1)


def start_demo_stub() -> BcbStub:
    """A started stub serving the demo's recorded bodies; stop() it when done."""
    return BcbStub.from_directory(DEMO_DATA).start()


def demo_settings(stub: BcbStub, settings: Settings) -> Settings:
    """`settings` pointed at the stub, without the pause meant for the real BCB."""
    return stub.point(settings, bcb_pause=0.0)


def sync_demo_rates(db: Database, settings: Settings) -> SyncReport:
    """Sync the recorded window through `settings` (already pointed at a stub)."""
    return sync_rates(db, settings, since=DEMO_SINCE)
