"""Builders shared by the Omie tests: titles and clients made from the recorded
bodies the package ships (nessdata/omie/demo_data), and a client for the stub with
its sleeps recorded instead of slept."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from nessdata.omie.client import OmieClient, clear_blocks
from nessdata.omie.stub import load

APP_KEY = "k3y-7f1c0ffee-do-not-log"
APP_SECRET = "s3cr3t-9b2deadbeef-do-not-log"


def title(lancamento: int, client: int, valor: str | int, emissao: str | None,
          status: str = "RECEBIDO", registro: str = "01/01/2020") -> dict:
    row = copy.deepcopy(load("ListarContasReceber.json")["conta_receber_cadastro"][0])
    row.update(codigo_lancamento_omie=lancamento, codigo_cliente_fornecedor=client,
               valor_documento=Decimal(valor) if isinstance(valor, str) else valor,
               status_titulo=status, data_registro=registro)
    if emissao is None:
        row.pop("data_emissao", None)
    else:
        row["data_emissao"] = emissao
    return row


def omie_client(code: int, cnpj_cpf: str = "", tags: tuple[str, ...] = ("Cliente",),
                name: str | None = None, inativo: str = "N") -> dict:
    row = copy.deepcopy(load("ListarClientes.json")["clientes_cadastro"][0])
    row.update(codigo_cliente_omie=code, cnpj_cpf=cnpj_cpf, inativo=inativo,
               razao_social=name or f"CLIENTE {code} LTDA",
               nome_fantasia=f"CLIENTE {code}", tags=[{"tag": t} for t in tags])
    return row


class Sleeps(list):
    """Stands in for time.sleep: records each wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(stub, app_key: str = APP_KEY, **options) -> OmieClient:
    values = dict(page_size=100, pause=0, max_retries=3, sleep=Sleeps())
    values.update(options)
    return OmieClient(stub.url, app_key, APP_SECRET, **values)


# Blocks are remembered per process; each test starts without any.
@pytest.fixture(autouse=True)
def _no_blocks():
    clear_blocks()
    yield
    clear_blocks()
