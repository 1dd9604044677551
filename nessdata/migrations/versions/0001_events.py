"""events, rollups and the business tables

Revision ID: 0001_events
Revises:
"""

import sqlalchemy as sa
from alembic import op

from nessdata.migrations.helpers import Id, dialect, id_column, instant
from nessdata.types import ExactDecimal, JSONType, SQLITE_INSTANT_GLOB

revision = "0001_events"
down_revision = None
branch_labels = None
depends_on = None

# A version-4 UUID as text, for rows other programs insert without an event_id.
SQLITE_UUID = (
    "(lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || "
    "substr(lower(hex(randomblob(2))), 2) || '-' || "
    "substr('89ab', 1 + (abs(random()) % 4), 1) || "
    "substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))))"
)

SQLITE_TRIGGERS = [
    # Plain-SQL writers may use 'T', 'Z' or an offset: rewrite to the one UTC shape
    # the range comparisons rely on (an unparseable value becomes NULL and fails).
    f"""CREATE TRIGGER module_events_normalise_insert AFTER INSERT ON module_events
    WHEN NEW.occurred_at NOT GLOB '{SQLITE_INSTANT_GLOB}'
    BEGIN
        UPDATE module_events
        SET occurred_at = strftime('%Y-%m-%d %H:%M:%f000', NEW.occurred_at)
        WHERE id = NEW.id;
    END""",
    f"""CREATE TRIGGER module_events_normalise_update
    AFTER UPDATE OF occurred_at ON module_events
    WHEN NEW.occurred_at NOT GLOB '{SQLITE_INSTANT_GLOB}'
    BEGIN
        UPDATE module_events
        SET occurred_at = strftime('%Y-%m-%d %H:%M:%f000', NEW.occurred_at)
        WHERE id = NEW.id;
    END""",
    """CREATE TRIGGER module_events_after_insert AFTER INSERT ON module_events
    BEGIN
        INSERT OR IGNORE INTO event_pending_hours (hour)
        VALUES (strftime('%Y-%m-%d %H:00:00.000000', NEW.occurred_at));
        UPDATE nessdata_counters SET value = value + 1 WHERE name = 'module_events';
    END""",
    """CREATE TRIGGER module_events_after_delete AFTER DELETE ON module_events
    BEGIN
        INSERT OR IGNORE INTO event_pending_hours (hour)
        VALUES (strftime('%Y-%m-%d %H:00:00.000000', OLD.occurred_at));
        UPDATE nessdata_counters SET value = value - 1 WHERE name = 'module_events';
    END""",
    """CREATE TRIGGER module_events_after_update
    AFTER UPDATE OF occurred_at, module, event_type ON module_events
    BEGIN
        INSERT OR IGNORE INTO event_pending_hours (hour)
        VALUES (strftime('%Y-%m-%d %H:00:00.000000', OLD.occurred_at));
        INSERT OR IGNORE INTO event_pending_hours (hour)
        VALUES (strftime('%Y-%m-%d %H:00:00.000000', NEW.occurred_at));
    END""",
]

# PostgreSQL: statement-level triggers, one pass over the rows a statement changed.
# ON CONFLICT DO UPDATE (not DO NOTHING) locks the pending hour, so a rollup that
# deletes it waits for this transaction and then counts its events.
PG_FUNCTION = """
CREATE FUNCTION nessdata_module_events_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO event_pending_hours (hour)
        SELECT DISTINCT date_trunc('hour', occurred_at, 'UTC') FROM new_rows
        ON CONFLICT (hour) DO UPDATE SET hour = EXCLUDED.hour;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO event_pending_hours (hour)
        SELECT DISTINCT date_trunc('hour', occurred_at, 'UTC') FROM old_rows
        ON CONFLICT (hour) DO UPDATE SET hour = EXCLUDED.hour;
    END IF;
    IF TG_OP = 'INSERT' THEN
        UPDATE nessdata_counters SET value = value + (SELECT count(*) FROM new_rows)
        WHERE name = 'module_events' AND EXISTS (SELECT 1 FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE nessdata_counters SET value = value - (SELECT count(*) FROM old_rows)
        WHERE name = 'module_events' AND EXISTS (SELECT 1 FROM old_rows);
    END IF;
    RETURN NULL;
END $$
"""

PG_TRUNCATE_FUNCTION = """
CREATE FUNCTION nessdata_module_events_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- With every event gone, every daily count is stale: none is left standing.
    UPDATE nessdata_counters SET value = 0 WHERE name = 'module_events';
    DELETE FROM event_aggregates;
    DELETE FROM event_pending_hours;
    RETURN NULL;
END $$
"""

PG_TRIGGERS = [
    PG_FUNCTION,
    PG_TRUNCATE_FUNCTION,
    """CREATE TRIGGER module_events_after_insert AFTER INSERT ON module_events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nessdata_module_events_changed()""",
    """CREATE TRIGGER module_events_after_delete AFTER DELETE ON module_events
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nessdata_module_events_changed()""",
    """CREATE TRIGGER module_events_after_update AFTER UPDATE ON module_events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION nessdata_module_events_changed()""",
    """CREATE TRIGGER module_events_after_truncate AFTER TRUNCATE ON module_events
    FOR EACH STATEMENT EXECUTE FUNCTION nessdata_module_events_truncated()""",
]


def upgrade() -> None:
    sqlite = dialect() == "sqlite"
    uuid_default = SQLITE_UUID if sqlite else "gen_random_uuid()::text"

    op.create_table(
        "module_events",
        id_column(),
        sa.Column("event_id", sa.String(36), nullable=False,
                  server_default=sa.text(uuid_default)),
        sa.Column("module", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("entity_id", sa.Text()),
        sa.Column("payload", JSONType, nullable=False, server_default=sa.text("'{}'")),
        instant("occurred_at"),
        instant("created_at", now=True),
        sa.UniqueConstraint("event_id", name="uq_module_events_event_id"),
    )
    op.create_index(
        "ix_module_events_occurred", "module_events",
        ["occurred_at", "module", "event_type"],
    )
    op.create_table(
        "event_pending_hours",
        instant("hour", primary_key=True),
    )
    op.create_table(
        "nessdata_counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO nessdata_counters (name, value) VALUES ('module_events', 0)")
    op.create_table(
        "nessdata_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "event_aggregates",
        id_column(),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("module", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        instant("updated_at", now=True),
        sa.UniqueConstraint("period", "module", "event_type",
                            name="uq_event_aggregates_period_module_type"),
    )
    op.create_index("ix_event_aggregates_period", "event_aggregates", ["period"])
    op.create_index("ix_event_aggregates_module_type", "event_aggregates",
                    ["module", "event_type"])

    for statement in SQLITE_TRIGGERS if sqlite else PG_TRIGGERS:
        op.execute(statement)

    _business_tables()


def _business_tables() -> None:
    op.create_table(
        "clients",
        id_column(),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("trade_name", sa.Text()),
        sa.Column("document", sa.String(14)),
        sa.Column("omie_codigo", sa.BigInteger()),
        sa.Column("omie_integration_code", sa.Text()),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        instant("created_at", now=True),
        instant("updated_at", now=True),
    )
    op.create_index("ix_clients_document", "clients", ["document"])
    op.create_index("uq_clients_omie_codigo", "clients", ["omie_codigo"], unique=True)
    op.create_table(
        "contracts",
        id_column(),
        sa.Column("external_id", sa.Text()),
        sa.Column("client_id", Id, sa.ForeignKey("clients.id", ondelete="SET NULL")),
        sa.Column("client_ref", sa.Text()),
        sa.Column("mrr", ExactDecimal(18, 2), nullable=False, server_default="0"),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date()),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        instant("created_at", now=True),
        instant("updated_at", now=True),
        sa.UniqueConstraint("external_id", name="uq_contracts_external_id"),
    )
    op.create_index("ix_contracts_dates", "contracts", ["start_date", "end_date"])
    op.create_table(
        "inbound_leads",
        id_column(),
        sa.Column("external_id", sa.Text(), nullable=False),
        instant("created_at"),
        sa.Column("source", sa.Text()),
        instant("imported_at", now=True),
        sa.UniqueConstraint("external_id", name="uq_inbound_leads_external_id"),
    )
    op.create_index("ix_inbound_leads_created_at", "inbound_leads", ["created_at"])
    op.create_table(
        "indicators",
        id_column(),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("value", ExactDecimal(24, 8)),
        sa.Column("unit", sa.String(16)),
        sa.Column("notes", sa.Text()),
        instant("updated_at", now=True),
        sa.UniqueConstraint("key", "period", name="uq_indicators_key_period"),
    )


def downgrade() -> None:
    for table in ("indicators", "inbound_leads", "contracts", "clients"):
        op.drop_table(table)
    if dialect() == "postgresql":
        op.execute("DROP TABLE module_events CASCADE")
        op.execute("DROP FUNCTION nessdata_module_events_changed()")
        op.execute("DROP FUNCTION nessdata_module_events_truncated()")
    else:
        op.drop_table("module_events")
    for table in ("event_aggregates", "nessdata_meta", "nessdata_counters",
                  "event_pending_hours"):
        op.drop_table(table)
