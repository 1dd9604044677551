"""The Olist marketing funnel (real data): leads and closed deals imported, the
indices of every month checked against figures read from the files here."""

import csv
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from nessdata.indices import compute_indices, read_indices
from nessdata.leads import import_leads

LEADS = "olist/olist_marketing_qualified_leads_dataset.csv"
DEALS = "olist/olist_closed_deals_dataset.csv"
FIRST, LAST = date(2017, 6, 1), date(2018, 11, 1)


def rows(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def month_of(day: date) -> date:
    return day.replace(day=1)


def months():
    month = FIRST
    while month <= LAST:
        yield month
        month = (month + timedelta(days=32)).replace(day=1)


def test_olist_leads_and_deals_give_the_indices_of_the_files(cli, db, shared_data):
    leads = Counter(month_of(datetime.strptime(r["first_contact_date"],
                                               "%d-%m-%Y").date())
                    for r in rows(shared_data / LEADS))
    deals = [(datetime.strptime(r["won_date"], "%d-%m-%Y %H:%M").date(),
              Decimal(r["declared_monthly_revenue"]))
             for r in rows(shared_data / DEALS)]
    assert sum(leads.values()) == 8000 and len(deals) == 842

    import_leads(db, shared_data / LEADS, id_column="mql_id",
                 created_at_column="first_contact_date", date_format="%d-%m-%Y")
    result = cli("contracts", "import", str(shared_data / DEALS),
                 "--id-column", "mql_id", "--start-column", "won_date",
                 "--mrr-column", "declared_monthly_revenue",
                 "--date-format", "%d-%m-%Y %H:%M")
    assert result.exit_code == 0, result.output
    assert "842 rows: 842 new contracts" in result.stdout
    report = compute_indices(db, since=FIRST, until=LAST)
    assert report.months == 18

    stored = {(r["period"], r["index_key"]): r["value"] for r in read_indices(db)}
    for month in months():
        next_month = (month + timedelta(days=32)).replace(day=1)
        won = [mrr for day, mrr in deals if day < next_month]
        new = sum(month_of(day) == month for day, _ in deals)
        assert stored[(month, "leads_mes")] == leads[month], month
        assert stored[(month, "contratos_novos")] == new, month
        assert stored[(month, "contratos_ativos")] == len(won), month
        assert stored[(month, "mrr_total")] == sum(won, Decimal("0.00")), month
        conversion = stored[(month, "conversao_leads")]
        if leads[month]:
            exact = Fraction(100 * new, leads[month])
            assert conversion == Decimal(round(exact * 10**8)).scaleb(-8), month
        else:
            assert conversion is None, month
    # The whole funnel, read by hand from the files: 842 deals, MRR 61,784,006.
    assert stored[(LAST, "contratos_ativos")] == 842
    assert stored[(LAST, "mrr_total")] == Decimal("61784006.00")
