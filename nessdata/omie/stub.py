"""A local stub of the Omie API for tests and the demo: stdlib http.server in a
thread on 127.0.0.1 (a random port), serving pages cut from recorded bodies, with
faults injected on demand."""

from __future__ import annotations

import copy
import json
import math
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

DATA = resources.files("nessdata.omie") / "demo_data"

LISTINGS = {
    ("geral/clientes", "ListarClientes"): ("clientes_cadastro",
                                           "codigo_cliente_omie"),
    ("financas/contareceber", "ListarContasReceber"): ("conta_receber_cadastro",
                                                       "codigo_lancamento_omie"),
}

# Fault bodies Omie sends. Those with no recorded body use wording seen in other
# projects' code (see ../shared/data/recorded/INDEX.md).
REDUNDANT = ("ERROR: Consumo redundante detectado. Aguarde {wait} segundos para "
             "tentar novamente (REDUNDANT).", "SOAP-ENV:Client-6")
BLOCKED = ("ERROR: API bloqueada por consumo indevido. Tente novamente em {wait} "
           "segundos.", "MISUSE_API_PROCESS")
BUSY = ("ERROR: Esta requisição já foi processada ou está sendo processada e você "
        "pode tentar novamente às {at}. (1)")
SERVER = ("ERROR: Falha ao processar a requisição, tente novamente mais tarde.",
          "SOAP-ENV:Server")
BAD_KEY = ("ERROR: A chave de acesso não está preenchida ou não é válida!",
           "SOAP-ENV:Client-101")
HTML = ("<html><head><title>502 Bad Gateway</title></head><body><center>"
        "<h1>502 Bad Gateway</h1></center></body></html>")


def load(name: str) -> Any:
    """A body shipped in demo_data, parsed as the wire would give it."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def recorded_fault(code: str) -> dict[str, str]:
    names = {"5113": "fault_SOAP-ENV_Client-5113_nao_existem_registros.json",
             "105": "fault_SOAP-ENV_Client-105_cliente_nao_cadastrado.json",
             "1100": "fault_SOAP-ENV_Client-1100_requisicao_ja_processada.json"}
    return load(names[code])


@dataclass
class Fault:
    """An answer given instead of the data, `times` times, to calls that match."""

    kind: str
    method: str | None = None
    page: int | None = None
    times: int = 1
    skip: int = 0  # matching calls let through before the fault starts
    wait: int = 60
    at: str = "19:04:08"
    code: str = "SOAP-ENV:Client-8020"  # of a busy fault

    def matches(self, method: str, page: int) -> bool:
        return self.times > 0 and self.method in (None, method) and (
            self.page in (None, page))


class OmieStub:
    """Serve `clients` and `titles` (rows as Omie sends them) like Omie would.

    Fault kinds: no_records (5113), redundant, busy (8020), too_many (429),
    blocked (425), html, server (500 SOAP-ENV:Server), request (Client-105).
    `repeat_pages` answers page 1 to every page; `endless` claims a million pages
    and invents new rows on each; `ignore_dates` drops the issue-date filter."""

    def __init__(self, *, clients: list[dict] | None = None,
                 titles: list[dict] | None = None,
                 app_key: str | None = None, app_secret: str | None = None):
        self.clients = clients if clients is not None else []
        self.titles = titles if titles is not None else []
        self.app_key, self.app_secret = app_key, app_secret
        self.faults: list[Fault] = []
        self.calls: list[dict[str, Any]] = []
        self.repeat_pages = False
        self.endless = False
        self.ignore_dates = False
        self.in_flight: Counter = Counter()
        self.max_in_flight: Counter = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self, port: int = 0) -> str:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,),
                         daemon=True, name="omie-stub").start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OmieStub:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/v1"

    def inject(self, kind: str, **options) -> Fault:
        fault = Fault(kind, **options)
        self.faults.append(fault)
        return fault

    def pages_served(self, method: str) -> list[int]:
        return [c["param"].get("pagina") for c in self.calls
                if c["call"] == method and c["status"] == 200]

    # -- answering -------------------------------------------------------------------

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, str, str]:
        method = body.get("call")
        param = (body.get("param") or [{}])[0]
        page = int(param.get("pagina") or 1)
        status, content_type, text = self._answer(path, method, param, page, body)
        with self._lock:
            self.calls.append({"path": path, "call": method, "param": param,
                               "status": status,
                               "keys_sent": bool(body.get("app_key"))
                               and bool(body.get("app_secret"))})
        return status, content_type, text

    def _answer(self, path, method, param, page, body):
        if self.app_key and (body.get("app_key"), body.get("app_secret")) != (
                self.app_key, self.app_secret):
            return _fault(500, *BAD_KEY)
        fault = self._take_fault(method, page)
        if fault:
            return _fault_answer(fault, page)
        listing = LISTINGS.get((path.strip("/").removeprefix("api/v1/"), method))
        if listing is None:
            return _fault(500, f"ERROR: Método [{method}] não existe em {path}",
                          "SOAP-ENV:Client-5001")
        return self._page(method, param, page, *listing)

    def _take_fault(self, method: str, page: int) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, page):
                    if fault.skip:
                        fault.skip -= 1
                        return None
                    fault.times -= 1
                    return fault
        return None

    def _page(self, method, param, page, list_key, id_key):
        rows = self._rows(method, param, id_key)
        size = int(param.get("registros_por_pagina") or 50)
        total = max(math.ceil(len(rows) / size), 1)
        if self.repeat_pages:
            page_rows = rows[:size]
        elif self.endless:
            page_rows = _invented(rows[:size], id_key, page)
            total = 1_000_000
        else:
            page_rows = rows[(page - 1) * size: page * size]
        if not page_rows:
            text, code = recorded_fault("5113").values()
            return _fault(500, text.replace("[1]", f"[{page}]"), code)
        return 200, "application/json", _dumps({
            "pagina": page, "total_de_paginas": total, "registros": len(page_rows),
            "total_de_registros": len(rows), list_key: page_rows})

    def _rows(self, method, param, id_key):
        if method == "ListarClientes":
            rows = list(self.clients)
        else:
            rows = [t for t in self.titles
                    if self.ignore_dates or _issued_within(t, param)]
        return sorted(rows, key=lambda row: row.get(id_key) or 0)


def _issued_within(title: dict, param: dict) -> bool:
    issued = _date(title.get("data_emissao")) or _date(title.get("data_registro"))
    first = _date(param.get("filtrar_por_emissao_de"))
    last = _date(param.get("filtrar_por_emissao_ate"))
    if issued is None:
        return True
    return (first is None or issued >= first) and (last is None or issued <= last)


def _date(value: Any) -> date | None:
    return datetime.strptime(value, "%d/%m/%Y").date() if value else None


def _invented(rows: list[dict], id_key: str, page: int) -> list[dict]:
    out = []
    for n, row in enumerate(rows):
        row = copy.deepcopy(row)
        row[id_key] = 10**12 + page * 10_000 + n
        out.append(row)
    return out


def _fault_answer(fault: Fault, page: int) -> tuple[int, str, str]:
    if fault.kind == "no_records":
        text, code = recorded_fault("5113").values()
        return _fault(500, text.replace("[1]", f"[{page}]"), code)
    if fault.kind == "redundant":
        return _fault(500, REDUNDANT[0].format(wait=fault.wait), REDUNDANT[1])
    if fault.kind == "busy":
        return _fault(500, BUSY.format(at=fault.at), fault.code)
    if fault.kind == "too_many":
        return 429, "text/plain", "Too Many Requests"
    if fault.kind == "blocked":
        return _fault(425, BLOCKED[0].format(wait=fault.wait), BLOCKED[1])
    if fault.kind == "html":
        return 502, "text/html", HTML
    if fault.kind == "server":
        return _fault(500, *SERVER)
    if fault.kind == "request":
        text, code = recorded_fault("105").values()
        return _fault(500, text, code)
    raise ValueError(f"unknown fault kind {fault.kind!r}")


def _fault(status: int, text: str, code: str) -> tuple[int, str, str]:
    return status, "application/json", _dumps({"faultstring": text, "faultcode": code})


def _dumps(value: Any) -> str:
    # A Decimal goes out as a JSON number with the same digits (as Omie sends).
    return json.dumps(value, ensure_ascii=False, default=_number)


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # repr(float) keeps the digits of any 2-decimal amount
    raise TypeError(f"{type(value).__name__} is not JSON")


def _handler(stub: OmieStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            method = str(body.get("call"))
            with stub._lock:
                stub.in_flight[method] += 1
                stub.max_in_flight[method] = max(stub.max_in_flight[method],
                                                 stub.in_flight[method])
            try:
                status, content_type, text = stub.answer(self.path, body)
            finally:
                with stub._lock:
                    stub.in_flight[method] -= 1
            data = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass  # the stub is quiet; tests read stub.calls

    return Handler
