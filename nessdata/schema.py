"""The tables, as SQLAlchemy Core metadata. The migrations create them; queries use
these definitions. A test compares the two so they cannot drift apart."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .types import ExactDecimal, JSONType, UTCDateTime

metadata = MetaData()

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")
Money = ExactDecimal(18, 2)
Rate = ExactDecimal(24, 8)


def _id() -> Column:
    return Column("id", Id, primary_key=True, autoincrement=True,
                  comment="row id (surrogate key)")


# -- events and rollups (issue 2) ---------------------------------------------------

module_events = Table(
    "module_events",
    metadata,
    _id(),
    Column("event_id", String(36), nullable=False,
           comment="UUID; given by the caller or generated; idempotency key"),
    Column("module", String(32), nullable=False,
           comment="emitting module, e.g. growth"),
    Column("event_type", String(64), nullable=False, comment="e.g. lead.created"),
    Column("entity_id", Text, comment="id of the thing the event is about"),
    Column("payload", JSONType, nullable=False, comment="JSON object"),
    Column("occurred_at", UTCDateTime, nullable=False,
           comment="when it happened (UTC instant)"),
    Column("created_at", UTCDateTime, nullable=False, comment="when it was stored"),
    UniqueConstraint("event_id", name="uq_module_events_event_id"),
    Index("ix_module_events_occurred", "occurred_at", "module", "event_type"),
    comment="Append-only store of the events the ness.OS modules emit.",
)

# Hours (UTC) holding events written since their day was last rolled up. Triggers on
# module_events fill it; a rollup of a day empties the hours it covers.
event_pending_hours = Table(
    "event_pending_hours",
    metadata,
    Column("hour", UTCDateTime, primary_key=True, comment="start of a UTC hour"),
    comment="UTC hours whose events changed since their day was rolled up.",
)

nessdata_counters = Table(
    "nessdata_counters",
    metadata,
    Column("name", String(64), primary_key=True,
           comment="counter name, e.g. module_events"),
    Column("value", BigInteger, nullable=False, comment="exact current value"),
    comment="Exact row counts kept by triggers, so the summary needs no count(*).",
)

nessdata_meta = Table(
    "nessdata_meta",
    metadata,
    Column("key", String(64), primary_key=True,
           comment="fact name, e.g. rollup_timezone"),
    Column("value", Text, nullable=False, comment="fact value"),
    comment="Facts about the data itself, such as the time zone of the rollups.",
)

event_aggregates = Table(
    "event_aggregates",
    metadata,
    _id(),
    Column("period", Date, nullable=False, comment="local calendar day"),
    Column("module", String(32), nullable=False, comment="emitting module"),
    Column("event_type", String(64), nullable=False, comment="event type"),
    Column("count", BigInteger, nullable=False, comment="events on that day"),
    Column("updated_at", UTCDateTime, nullable=False,
           comment="when the day was last recounted"),
    UniqueConstraint("period", "module", "event_type",
                     name="uq_event_aggregates_period_module_type"),
    Index("ix_event_aggregates_period", "period"),
    Index("ix_event_aggregates_module_type", "module", "event_type"),
    comment="Exact daily event counts per module and type, in the business time zone.",
)

# -- business tables ------------------------------------------------------------------

clients = Table(
    "clients",
    metadata,
    _id(),
    Column("name", Text, nullable=False, comment="razão social or person's name"),
    Column("trade_name", Text, comment="nome fantasia"),
    Column("document", String(14), comment="CNPJ or CPF, digits only"),
    Column("omie_codigo", BigInteger, comment="codigo_cliente_omie"),
    Column("omie_integration_code", Text, comment="codigo_cliente_integracao"),
    Column("active", Boolean, nullable=False,
           comment="false once the client is inactive in the ERP"),
    Column("created_at", UTCDateTime, nullable=False,
           comment="when the row was created here"),
    Column("updated_at", UTCDateTime, nullable=False,
           comment="when the row last changed here"),
    Index("ix_clients_document", "document"),
    Index("uq_clients_omie_codigo", "omie_codigo", unique=True),
    comment="Clients of the business; filled by hand or from the Omie ERP.",
)

contracts = Table(
    "contracts",
    metadata,
    _id(),
    Column("external_id", Text, comment="id in the source system"),
    Column("client_id", Id, ForeignKey("clients.id", ondelete="SET NULL"),
           comment="the client, when known"),
    Column("client_ref", Text, comment="client as named by the source system"),
    Column("mrr", Money, nullable=False, comment="monthly recurring revenue, BRL"),
    Column("start_date", Date, nullable=False,
           comment="first day in force (local date)"),
    Column("end_date", Date, comment="last day in force; null while open-ended"),
    Column("status", String(16), nullable=False,
           comment="active, ended or cancelled"),
    Column("created_at", UTCDateTime, nullable=False,
           comment="when the row was created here"),
    Column("updated_at", UTCDateTime, nullable=False,
           comment="when the row last changed here"),
    UniqueConstraint("external_id", name="uq_contracts_external_id"),
    Index("ix_contracts_dates", "start_date", "end_date"),
    comment="Contracts with their monthly recurring revenue.",
)

inbound_leads = Table(
    "inbound_leads",
    metadata,
    _id(),
    Column("external_id", Text, nullable=False, comment="lead id in the source system"),
    Column("created_at", UTCDateTime, nullable=False, comment="when the lead arrived"),
    Column("source", Text, comment="origin channel, e.g. organic_search"),
    Column("imported_at", UTCDateTime, nullable=False,
           comment="when the lead was first imported"),
    UniqueConstraint("external_id", name="uq_inbound_leads_external_id"),
    Index("ix_inbound_leads_created_at", "created_at"),
    comment="Leads that reached the funnel.",
)

indicators = Table(
    "indicators",
    metadata,
    _id(),
    Column("key", String(64), nullable=False, comment="indicator name"),
    Column("period", Date, nullable=False, comment="day or first day of the month"),
    Column("value", Rate, comment="value; null when unknown"),
    Column("unit", String(16), comment="unit of value, e.g. BRL or %"),
    Column("notes", Text, comment="free text"),
    Column("updated_at", UTCDateTime, nullable=False,
           comment="when the value last changed"),
    UniqueConstraint("key", "period", name="uq_indicators_key_period"),
    comment="Indicators kept by hand by the business teams.",
)

# -- outside sources (issues 3 and 4) -------------------------------------------------

sync_runs = Table(
    "sync_runs",
    metadata,
    _id(),
    Column("source", String(32), nullable=False, comment="e.g. bcb, omie_revenue"),
    Column("params", JSONType, nullable=False,
           comment="JSON object of the run's options (dates, rates, pages)"),
    Column("status", String(16), nullable=False,
           comment="running, ok, failed or blocked"),
    Column("started_at", UTCDateTime, nullable=False, comment="when the run began"),
    Column("finished_at", UTCDateTime, comment="when it ended; null while running"),
    Column("heartbeat_at", UTCDateTime, comment="last sign of life of the run"),
    Column("records_written", Integer, nullable=False,
           comment="rows written by the run"),
    Column("error", Text, comment="why it failed; null on success"),
    Column("resume_after", UTCDateTime, comment="when a blocked source may be asked"),
    Column("pid", Integer, comment="process id of the run"),
    Column("hostname", Text, comment="machine the run ran on"),
    Index("ix_sync_runs_source_started", "source", "started_at"),
    comment="One row per sync run, successful or not.",
)

bcb_rates_snapshot = Table(
    "bcb_rates_snapshot",
    metadata,
    _id(),
    Column("rate_type", String(32), nullable=False,
           comment="dollar_ptax, ipca, igpm, selic, cdi, …"),
    Column("ref_date", Date, nullable=False,
           comment="date (or first day of the month) the value refers to"),
    Column("value", Rate, nullable=False,
           comment="the rate; for dollar_ptax the selling rate"),
    Column("value_buy", Rate, comment="dollar_ptax buying rate"),
    Column("value_sell", Rate, comment="dollar_ptax selling rate"),
    Column("source", Text, nullable=False, comment="series the value came from"),
    Column("synced_at", UTCDateTime, nullable=False,
           comment="when the value was fetched"),
    UniqueConstraint("rate_type", "ref_date", name="uq_bcb_rates_type_date"),
    comment="Rates published by the Banco Central do Brasil.",
)

erp_revenue_snapshot = Table(
    "erp_revenue_snapshot",
    metadata,
    _id(),
    Column("period", Date, nullable=False, comment="first day of the month"),
    Column("omie_codigo", BigInteger, nullable=False,
           comment="codigo_cliente_omie of the billed client"),
    Column("client_id", Id, ForeignKey("clients.id", ondelete="SET NULL"),
           comment="the client in clients, when matched"),
    Column("valor", Money, nullable=False, comment="sum billed in the month, BRL"),
    Column("titles_count", Integer, nullable=False, comment="number of titles summed"),
    Column("synced_at", UTCDateTime, nullable=False,
           comment="when the month was fetched"),
    UniqueConstraint("period", "omie_codigo", name="uq_erp_revenue_period_client"),
    comment="What the Omie ERP billed each client per month.",
)

# -- derived indices (issue 5) ---------------------------------------------------------

data_indices = Table(
    "data_indices",
    metadata,
    _id(),
    Column("period", Date, nullable=False, comment="first day of the month"),
    Column("index_key", String(64), nullable=False,
           comment="index key, see the index list"),
    Column("value", Rate, comment="null when its inputs are missing"),
    Column("metadata", JSONType, nullable=False,
           comment="inputs used, or why the value is missing"),
    Column("updated_at", UTCDateTime, nullable=False,
           comment="when the value was computed"),
    UniqueConstraint("period", "index_key", name="uq_data_indices_period_key"),
    comment="Monthly business indices derived from the other tables.",
)

# -- web access (issue 6) --------------------------------------------------------------

api_tokens = Table(
    "api_tokens",
    metadata,
    _id(),
    Column("name", String(64), nullable=False, comment="who or what holds the token"),
    Column("role", String(16), nullable=False, comment="admin, fin, ops or viewer"),
    Column("scopes", Text, nullable=False, comment="space-separated, e.g. events"),
    Column("token_hash", String(64), nullable=False,
           comment="SHA-256 of the token; the token itself is never stored"),
    Column("created_at", UTCDateTime, nullable=False, comment="when it was created"),
    Column("last_used_at", UTCDateTime, comment="last request made with it"),
    Column("revoked_at", UTCDateTime, comment="when it was revoked; null while valid"),
    UniqueConstraint("name", name="uq_api_tokens_name"),
    UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    comment="API tokens of the web app.",
)
