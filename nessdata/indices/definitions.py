"""The indices. Each is one decorated function computing a month's value; months
are local calendar months of the business time zone (db.tz)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, localcontext

from ..localtime import next_month
from ..schema import contracts, inbound_leads
from . import inputs
from .inputs import active_on, count, exact_sum, has_rows, live, within
from .month import Month
from .registry import Outcome, index, index_family, missing

HUNDRED = Decimal(100)
NO_CONTRACTS = "no contracts are stored"
NO_LEADS = "no leads are stored"


def _ratio(numerator: Decimal, denominator: Decimal, scale: Decimal = HUNDRED
           ) -> Decimal:
    with localcontext() as context:
        context.prec = 50
        return numerator * scale / denominator


def _month_text(period: date) -> str:
    return period.strftime("%Y-%m")


def _days(month: Month) -> dict[str, str]:
    return {"from": month.period.isoformat(), "to": month.last.isoformat()}


# -- leads -------------------------------------------------------------------------

@index("leads_mes", title="Leads do mês", unit="count",
       definition="Leads created in the month (inbound_leads.created_at, local time).",
       places=0)
def leads_mes(month: Month) -> Outcome:
    if not has_rows(month, inbound_leads):
        return missing(NO_LEADS)
    created = inbound_leads.c.created_at
    leads = count(month, inbound_leads, created >= month.start, created < month.end)
    return Outcome(Decimal(leads), {"since_utc": month.start.isoformat(),
                                    "until_utc": month.end.isoformat()})


# -- contracts ---------------------------------------------------------------------

@index("contratos_ativos", title="Contratos ativos", unit="count",
       definition="Contracts in force on the month's last day (not cancelled).",
       places=0)
def contratos_ativos(month: Month) -> Outcome:
    if not has_rows(month, contracts):
        return missing(NO_CONTRACTS)
    active = count(month, contracts, *active_on(month.last))
    return Outcome(Decimal(active), {"on": month.last.isoformat()})


@index("mrr_total", title="MRR total", unit="BRL",
       definition="Sum of the MRR of the contracts active on the month's last day.",
       places=2)
def mrr_total(month: Month) -> Outcome:
    if not has_rows(month, contracts):
        return missing(NO_CONTRACTS)
    total = exact_sum(month, contracts.c.mrr, *active_on(month.last))
    active = month.get("contratos_ativos").value
    return Outcome(total, {"on": month.last.isoformat(), "contracts": int(active)})


@index("contratos_novos", title="Contratos novos", unit="count",
       definition="Contracts starting in the month (not cancelled).", places=0)
def contratos_novos(month: Month) -> Outcome:
    if not has_rows(month, contracts):
        return missing(NO_CONTRACTS)
    started = count(month, contracts, live(), *within(contracts.c.start_date, month))
    return Outcome(Decimal(started), _days(month))


@index("contratos_encerrados", title="Contratos encerrados", unit="count",
       definition="Contracts whose last day in force falls in the month (not "
       "cancelled).", places=0)
def contratos_encerrados(month: Month) -> Outcome:
    if not has_rows(month, contracts):
        return missing(NO_CONTRACTS)
    ended = count(month, contracts, live(), *within(contracts.c.end_date, month))
    return Outcome(Decimal(ended), _days(month))


@index("churn_rate", title="Churn", unit="%",
       definition="Contracts ended in the month per 100 in force on its first day.")
def churn_rate(month: Month) -> Outcome:
    ended = month.get("contratos_encerrados")
    if ended.value is None:
        return ended
    at_start = count(month, contracts, *active_on(month.period))
    inputs_used = {"ended": int(ended.value), "active_at_start": at_start}
    if at_start == 0:
        return missing("no contract was in force on the month's first day",
                       **inputs_used)
    return Outcome(_ratio(ended.value, Decimal(at_start)), inputs_used)


@index("arpa", title="ARPA", unit="BRL",
       definition="Average MRR per active contract: mrr_total / contratos_ativos.",
       places=2)
def arpa(month: Month) -> Outcome:
    total, active = month.get("mrr_total"), month.get("contratos_ativos")
    if total.value is None:
        return total
    inputs_used = {"mrr_total": total.value, "contracts": int(active.value)}
    if active.value == 0:
        return missing("no contract active at the end of the month", **inputs_used)
    return Outcome(_ratio(total.value, active.value, Decimal(1)), inputs_used)


@index("mrr_variacao_pct", title="Variação do MRR", unit="%",
       definition="Change of mrr_total against the previous month, in %.")
def mrr_variacao_pct(month: Month) -> Outcome:
    previous_month = month.previous()
    now, before = month.get("mrr_total"), previous_month.get("mrr_total")
    if now.value is None:
        return now
    inputs_used = {"mrr_total": now.value, "previous_mrr_total": before.value,
                   "previous_month": _month_text(previous_month.period)}
    if not before.value:
        return missing("the previous month's mrr_total is 0", **inputs_used)
    return Outcome(_ratio(now.value - before.value, before.value), inputs_used)


@index("conversao_leads", title="Conversão de leads", unit="%",
       definition="Contracts started in the month per 100 leads of the month.")
def conversao_leads(month: Month) -> Outcome:
    started, leads = month.get("contratos_novos"), month.get("leads_mes")
    for outcome in (started, leads):
        if outcome.value is None:
            return outcome
    inputs_used = {"contracts_started": int(started.value), "leads": int(leads.value)}
    if leads.value == 0:
        return missing("no leads in the month", **inputs_used)
    return Outcome(_ratio(started.value, leads.value), inputs_used)


# -- outside sources ---------------------------------------------------------------

@index("faturamento_total", title="Faturamento total", unit="BRL",
       definition="What the Omie ERP billed in the month, all clients "
       "(erp_revenue_snapshot); missing if the month was never synced.", places=2)
def faturamento_total(month: Month) -> Outcome:
    revenue = inputs.revenue_of(month)
    run = inputs.revenue_run(month)
    if revenue["clients"] == 0 and run is None:
        return missing("the month was never synced from Omie")
    total = revenue.pop("total")
    return Outcome(total, {**revenue, "sync_run": run and run["id"]})


@index("ipca_12m", title="IPCA 12 meses", unit="%",
       definition="IPCA compounded over the 12 months ending with this one.")
def ipca_12m(month: Month) -> Outcome:
    first = _months_back(month.period, 11)
    held = inputs.ipca_by_month(month, first, month.period)
    wanted = inputs.months_between(first, month.period)
    absent = [_month_text(m) for m in wanted if m not in held]
    if absent:
        return missing(f"IPCA not held for {', '.join(absent)}",
                       months_missing=absent)
    factor = _compound(held[m] for m in wanted)
    return Outcome((factor - 1) * HUNDRED, {
        "first_month": _month_text(first), "last_month": _month_text(month.period),
        "monthly_pct": [str(held[m]) for m in wanted]})


@index("mrr_real", title="MRR real", unit="BRL",
       definition="mrr_total in money of the base month (NESSDATA_INDICES_BASE_MONTH),"
       " deflated by the IPCA.", places=2)
def mrr_real(month: Month) -> Outcome:
    base, total = month.run.base_month, month.get("mrr_total")
    if base is None:
        return missing("no base month: set NESSDATA_INDICES_BASE_MONTH=YYYY-MM")
    if total.value is None:
        return total
    # Prices of month M over those of month B: the IPCA of the months after the
    # earlier of the two, up to the later, compounded.
    earlier, later = sorted((base, month.period))
    wanted = inputs.months_between(next_month(earlier), later)
    held = inputs.ipca_by_month(month, next_month(earlier), later) if wanted else {}
    absent = [_month_text(m) for m in wanted if m not in held]
    inputs_used = {"base_month": _month_text(base), "mrr_total": total.value}
    if absent:
        return missing(f"IPCA not held for {', '.join(absent)}",
                       months_missing=absent, **inputs_used)
    growth = _compound(held[m] for m in wanted)
    with localcontext() as context:
        context.prec = 50
        value = (total.value * growth if month.period < base
                 else total.value / growth)
    return Outcome(value, {**inputs_used, "ipca_growth": str(round(growth, 12)),
                           "ipca_months": [_month_text(m) for m in wanted]})


def _compound(monthly_pct) -> Decimal:
    with localcontext() as context:
        context.prec = 50
        factor = Decimal(1)
        for pct in monthly_pct:
            factor *= 1 + pct / HUNDRED
        return factor


def _months_back(period: date, months: int) -> date:
    index_ = period.year * 12 + period.month - 1 - months
    return date(index_ // 12, index_ % 12 + 1, 1)


# -- events ------------------------------------------------------------------------

@index_family("eventos_<module>", title="Eventos por módulo", unit="count",
              definition="Events of the module in the month (event_aggregates).")
def eventos(month: Month) -> dict[str, Outcome]:
    counted = inputs.events_by_module(month)
    pending = inputs.pending_hours(month)
    outcomes = {}
    for module in inputs.event_modules(month):
        events, days = counted.get(module, (0, 0))
        outcomes[f"eventos_{module}"] = Outcome(
            Decimal(events), {"days_with_events": days, "pending_hours": pending})
    return outcomes
