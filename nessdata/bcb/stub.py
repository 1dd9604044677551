"""A local stand-in for the two BCB APIs, for tests and the demo.

It serves recorded bodies on 127.0.0.1 (a random port), honours the date parameters
as BCB does (DD/MM/YYYY for SGS, month-first 'MM-DD-YYYY' for PTAX, 406 for a daily
SGS window over 10 years, 400 for /ultimos/N over 20) and can be told to fail the
way BCB fails: an XHTML page with status 200, 5xx, 406, 400, an empty or 404 window,
an older row outside the window, a dropped connection."""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from ..localtime import local_today
from ..settings import Settings

BRASILIA = ZoneInfo("America/Sao_Paulo")
FAILURES = ("xhtml", "status", "406", "400", "empty", "404", "stale_row", "reset",
            "garbage")
THROTTLE_PAGE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD '
    'XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>Requisição inválida!'
    "</title></head><body><h1>Requisição inválida!</h1></body></html>\n"
)
NOT_FOUND = {"erro": {"statusCode": 404, "detail": "br.gov.bcb.pec.sgs.comum."
                      "excecoes.SGSNegocioException: Value(s) not found"}}
ODATA_CONTEXT = ("https://was-p.bcnet.bcb.gov.br/olinda/servico/PTAX/versao/v1/"
                 "odata$metadata#_CotacaoDolarPeriodo")
_DEFAULT_406 = {"error": "O sistema aceita uma janela de consulta de, no máximo, "
                "10 anos em séries de periodicidade diária"}
_DEFAULT_400 = {"erro": {"statusCode": 400, "detail": "br.gov.bcb.pec.sgs.comum."
                         "excecoes.SGSNegocioException: A quantidade máxima de "
                         "valores deve ser 20"}}
_SGS_PATH = re.compile(r"/sgs/bcdata\.sgs\.(\d+)/dados(?:/ultimos/(\d+))?/?")
_PTAX_PATH = re.compile(r"/ptax/CotacaoDolarPeriodo\(dataInicial=@dataInicial,"
                        r"dataFinalCotacao=@dataFinalCotacao\)")


@dataclass
class StubRequest:
    api: str  # sgs, ptax or other
    code: int | None
    first: date | None
    last: date | None
    status: int = 0
    path: str = ""


@dataclass
class _Failure:
    kind: str
    target: str | int | None
    times: int
    status: int


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    reset: bool = False


@dataclass
class BcbStub:
    """SGS series (code → rows of {"data", "valor"}) and PTAX rows, served over
    HTTP while started."""

    sgs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    ptax: list[dict[str, Any]] = field(default_factory=list)
    error_406: bytes = field(default_factory=lambda: _json_bytes(_DEFAULT_406))
    error_400: bytes = field(default_factory=lambda: _json_bytes(_DEFAULT_400))
    requests: list[StubRequest] = field(default_factory=list)

    def __post_init__(self):
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._sgs_dates = {code: [_dmy(row["data"]) for row in rows]
                           for code, rows in self.sgs.items()}
        self._ptax_dates = [_stamp_date(row) for row in self.ptax]

    # -- set-up ----------------------------------------------------------------

    @classmethod
    def from_files(cls, sgs: dict[int, Path] | None = None,
                   ptax: Path | None = None, *, error_406: Path | None = None,
                   error_400: Path | None = None) -> BcbStub:
        """A stub serving recorded bodies: SGS arrays and a PTAX envelope (or bare
        `value` array)."""
        series = {code: _read_json(path) for code, path in (sgs or {}).items()}
        rows = _read_json(ptax) if ptax else []
        extra = {}
        if error_406:
            extra["error_406"] = error_406.read_bytes()
        if error_400:
            extra["error_400"] = error_400.read_bytes()
        return cls(series, rows.get("value", []) if isinstance(rows, dict) else rows,
                   **extra)

    @classmethod
    def from_directory(cls, path: Path) -> BcbStub:
        """Files named sgs_<code>.json, ptax.json, sgs_error_406.json and
        sgs_error_400.json (the layout of demo_data/)."""
        sgs = {int(p.stem.split("_")[1]): p for p in path.glob("sgs_[0-9]*.json")}
        optional = {name: path / f"sgs_error_{name[-3:]}.json"
                    for name in ("error_406", "error_400")}
        ptax = path / "ptax.json"
        return cls.from_files(sgs, ptax if ptax.exists() else None,
                              **{k: p for k, p in optional.items() if p.exists()})

    def fail(self, kind: str, *, times: int = 1, target: str | int | None = None,
             status: int = 503) -> BcbStub:
        """Answer the next `times` matching requests with a failure. `target` is
        "sgs", "ptax", an SGS code or None (any); `status` is for kind "status"."""
        if kind not in FAILURES:
            raise ValueError(f"unknown failure {kind!r}; known: {', '.join(FAILURES)}")
        with self._lock:
            self._failures.append(_Failure(kind, target, times, status))
        return self

    # -- running ---------------------------------------------------------------

    def start(self, port: int = 0) -> BcbStub:
        server = _Server(("127.0.0.1", port), _Handler)
        server.stub = self
        threading.Thread(target=server.serve_forever, args=(0.05,),
                         name="bcb-stub", daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> BcbStub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the BCB stub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def sgs_url(self) -> str:
        return f"{self.url}/sgs"

    @property
    def ptax_url(self) -> str:
        return f"{self.url}/ptax"

    def point(self, settings: Settings, **overrides) -> Settings:
        """`settings` with the BCB URLs aimed at this stub."""
        return settings.model_copy(update={"bcb_sgs_url": self.sgs_url,
                                           "bcb_ptax_url": self.ptax_url,
                                           **overrides})

    # -- answering -------------------------------------------------------------

    def answer(self, raw_path: str) -> _Reply:
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        path = unquote(parts.path)
        if match := _SGS_PATH.fullmatch(path):
            return self._sgs(int(match.group(1)), match.group(2), query, raw_path)
        if _PTAX_PATH.fullmatch(path):
            return self._ptax(query, raw_path)
        self._log(StubRequest("other", None, None, None, 404, raw_path))
        return _Reply(404, b"<html><body>Not Found</body></html>", "text/html")

    def _sgs(self, code: int, last_n: str | None, query: dict, raw: str) -> _Reply:
        request = StubRequest("sgs", code, None, None, path=raw)
        try:
            reply = self._sgs_reply(code, last_n, query, request)
        except ValueError as exc:
            reply = _Reply(400, _json_bytes({"erro": {"statusCode": 400,
                                                      "detail": str(exc)}}))
        return self._finish(request, reply)

    def _sgs_reply(self, code: int, last_n: str | None, query: dict,
                   request: StubRequest) -> _Reply:
        if code not in self.sgs:
            return _Reply(404, _json_bytes(NOT_FOUND))
        rows, dates = self.sgs[code], self._sgs_dates[code]
        if last_n is not None:
            if int(last_n) > 20:
                return _Reply(400, self.error_400)
            return _Reply(200, _json_bytes(rows[-int(last_n):] if int(last_n) else []))
        first = _query_date(query, "dataInicial", "%d/%m/%Y")
        last = _query_date(query, "dataFinal", "%d/%m/%Y") or local_today(BRASILIA)
        request.first, request.last = first, last
        daily = any(day.day != 1 for day in dates)
        if daily and (first is None or last > _years_after(first, 10)):
            return _Reply(406, self.error_406)
        older, inside = _around(rows, dates, first or date.min, last)
        failure = self._take_failure("sgs", code)
        if failure is None:
            return _Reply(200, _json_bytes(inside))
        return _failed(failure, self, empty=b"[]",
                       stale=_json_bytes(older + inside))

    def _ptax(self, query: dict, raw: str) -> _Reply:
        request = StubRequest("ptax", None, None, None, path=raw)
        try:
            first = _query_date(query, "@dataInicial", "%m-%d-%Y", quoted=True)
            last = _query_date(query, "@dataFinalCotacao", "%m-%d-%Y", quoted=True)
            if first is None or last is None:
                raise ValueError("@dataInicial and @dataFinalCotacao are required")
        except ValueError as exc:
            error = {"error": {"code": "", "message": str(exc)}}
            return self._finish(request, _Reply(400, _json_bytes(error)))
        request.first, request.last = first, last
        older, inside = _around(self.ptax, self._ptax_dates, first, last)
        failure = self._take_failure("ptax", None)
        if failure is None:
            return self._finish(request, _Reply(200, _ptax_body(inside)))
        reply = _failed(failure, self, empty=_ptax_body([]),
                        stale=_ptax_body(older + inside))
        return self._finish(request, reply)

    def _take_failure(self, api: str, code: int | None) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.target in (None, api, code):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    def _finish(self, request: StubRequest, reply: _Reply) -> _Reply:
        request.status = reply.status
        self._log(request)
        return reply

    def _log(self, request: StubRequest) -> None:
        with self._lock:
            self.requests.append(request)


def _around(rows: list, dates: list[date], first: date, last: date
            ) -> tuple[list, list]:
    """The last row before `first` (as a list of at most one) and the rows in
    first..last."""
    pairs = list(zip(rows, dates, strict=True))
    older = [row for row, day in pairs if day < first][-1:]
    return older, [row for row, day in pairs if first <= day <= last]


def _failed(failure: _Failure, stub: BcbStub, *, empty: bytes, stale: bytes
            ) -> _Reply:
    kind = failure.kind
    if kind == "xhtml":
        return _Reply(200, THROTTLE_PAGE.encode(), "text/html; charset=utf-8")
    if kind == "status":
        return _Reply(failure.status, b"<html><body>Bad Gateway</body></html>",
                      "text/html")
    if kind == "406":
        return _Reply(406, stub.error_406)
    if kind == "400":
        return _Reply(400, stub.error_400)
    if kind == "404":
        return _Reply(404, _json_bytes(NOT_FOUND))
    if kind == "empty":
        return _Reply(200, empty)
    if kind == "stale_row":
        return _Reply(200, stale)
    if kind == "garbage":
        return _Reply(200, stale[: len(stale) // 2])
    return _Reply(0, reset=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: BcbStub

    def handle_error(self, request, client_address) -> None:
        pass  # a connection the stub dropped on purpose


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        reply = self.server.stub.answer(self.path)
        if reply.reset:
            # SO_LINGER 0: close with a TCP reset, as a dropped connection does.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args) -> None:
        pass


# -- helpers -------------------------------------------------------------------

def _read_json(path: Path) -> Any:
    return json.loads(path.read_bytes().decode("utf-8-sig"), parse_float=Decimal)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, default=str).encode()


def _ptax_body(rows: list[dict[str, Any]]) -> bytes:
    # Numbers are written as BCB writes them (1.80030), never through a float.
    items = ",".join(
        "{" + ",".join(f"{json.dumps(key)}:{_literal(value)}"
                       for key, value in row.items()) + "}"
        for row in rows
    )
    return (f'{{"@odata.context":{json.dumps(ODATA_CONTEXT)},"value":[{items}]}}'
            .encode())


def _literal(value: Any) -> str:
    return str(value) if isinstance(value, Decimal) else json.dumps(value)


def _dmy(text: str) -> date:
    return datetime.strptime(text, "%d/%m/%Y").date()


def _stamp_date(row: dict[str, Any]) -> date:
    return date.fromisoformat(row["dataHoraCotacao"][:10])


def _query_date(query: dict, name: str, pattern: str, quoted: bool = False
                ) -> date | None:
    values = query.get(name)
    if not values:
        return None
    text = values[0]
    if quoted:
        if len(text) < 2 or text[0] != "'" or text[-1] != "'":
            raise ValueError(f"{name}={text!r}: the date must be in quotes")
        text = text[1:-1]
    try:
        return datetime.strptime(text, pattern).date()
    except ValueError as exc:
        raise ValueError(f"{name}={text!r} is not a valid date ({pattern})") from exc


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28) + timedelta(days=1)
