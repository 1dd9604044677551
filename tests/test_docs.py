"""The generated documents match the code, and go stale when the code changes."""

import shutil

import pytest
from pydantic import Field
from sqlalchemy import Column, MetaData, Text

from nessdata import docs
from nessdata.indices import REGISTRY
from nessdata.settings import Settings


@pytest.fixture
def copy(tmp_path):
    folder = tmp_path / "docs"
    shutil.copytree(docs.DOCS, folder)
    return folder


def test_the_committed_documents_are_up_to_date():
    assert docs.stale() == [], "run `nessdata docs build` and commit docs/"


def test_a_new_column_makes_the_dictionary_stale(copy, monkeypatch):
    assert docs.stale(copy) == []
    changed = MetaData()
    for table in docs.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["contracts"].append_column(
        Column("discount", Text, comment="agreed discount"))
    monkeypatch.setattr(docs, "metadata", changed)
    assert docs.stale(copy) == [copy / docs.DICTIONARY]


def test_a_column_without_a_meaning_cannot_be_documented(monkeypatch):
    changed = MetaData()
    for table in docs.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["clients"].append_column(Column("nickname", Text))
    monkeypatch.setattr(docs, "metadata", changed)
    with pytest.raises(ValueError, match="clients.nickname has no comment"):
        docs.data_dictionary()


def test_a_new_setting_makes_the_operations_guide_stale(copy, monkeypatch):
    class More(Settings):
        report_email: str = Field("", description="Where reports go.")

    monkeypatch.setattr(docs, "Settings", More)
    assert docs.stale(copy) == [copy / docs.OPERATIONS]
    assert "NESSDATA_REPORT_EMAIL" in docs.build(copy)[copy / docs.OPERATIONS]


def test_a_new_index_makes_the_dictionary_stale(copy, monkeypatch):
    template = REGISTRY["leads_mes"]
    monkeypatch.setitem(REGISTRY, "leads_semana", template)
    assert docs.stale(copy) == [copy / docs.DICTIONARY]


def test_every_table_and_rate_is_described():
    text = docs.data_dictionary()
    for name in docs.metadata.tables:
        assert f"### `{name}`" in text
    for key in ("dollar_ptax", "ipca", "igpm", "selic", "cdi", "mrr_total",
                "lead.created", "contract.signed"):
        assert f"`{key}`" in text
