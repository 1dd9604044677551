"""An in-house client of the Omie API: one POST per call, faults read from the body
before the HTTP status is trusted, bounded retries of what Omie says is transient,
and a hard stop when Omie blocks the key."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from ..db import now_utc
from ..errors import ConfigError, UpstreamError
from ..settings import Settings

log = logging.getLogger(__name__)

NO_RECORDS = "SOAP-ENV:Client-5113"
CENT = Decimal("0.01")
# Codes Omie sends while it is busy or counting calls; each says to try again.
TRANSIENT_CODES = {"SOAP-ENV:Client-6", "SOAP-ENV:Client-1100",
                   "SOAP-ENV:Client-1880", "SOAP-ENV:Client-8020"}
BLOCK_WAIT_DEFAULT = timedelta(minutes=30)
BACKOFF_FIRST = 2.0
BACKOFF_MAX = 60.0

_WAIT_SECONDS = re.compile(r"(?:aguarde|em)\s+(\d+)\s+segundos", re.IGNORECASE)
_RETRY_AT = re.compile(r"novamente\s+(?:às|as)\s+(\d{1,2}):(\d{2}):(\d{2})",
                       re.IGNORECASE)


class OmieBlocked(UpstreamError):
    """Omie blocked the key for misuse; no call may be made before resume_after."""

    def __init__(self, message: str, resume_after: datetime):
        self.resume_after = resume_after
        super().__init__(message, status=425, source="omie")


class OmieRequestError(UpstreamError):
    """Omie refused the request itself; repeating it would only count against us."""


class _NoRecords(Exception):
    """Fault 5113: the page asked for has no rows."""


class _Transient(Exception):
    def __init__(self, message: str, wait: float | None = None):
        self.wait = wait
        super().__init__(message)


@dataclass
class _MethodGate:
    """One call in flight per key and method, and a pause between calls."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    last_call: float | None = None


# Shared by every client of the process: Omie counts calls per key and method, and
# blocks the key, not the client object.
_GATES: dict[tuple[str, str], _MethodGate] = {}
_GATES_LOCK = threading.Lock()
_BLOCKED: dict[str, datetime] = {}


@dataclass
class Page:
    number: int
    total_pages: int
    rows: list[dict[str, Any]]


class OmieClient:
    def __init__(self, base_url: str, app_key: str, app_secret: str, *,
                 page_size: int = 100, pause: float = 0.3, max_retries: int = 4,
                 max_wait: float = 120.0, max_pages: int = 500,
                 timeout: float = 30.0, tz: ZoneInfo | None = None,
                 http: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.base_url = base_url.rstrip("/")
        self._app_key = app_key
        self._app_secret = app_secret
        self.key_id = hashlib.sha256(app_key.encode()).hexdigest()[:12]
        self.page_size = page_size
        self.pause = pause
        self.max_retries = max_retries
        self.max_wait = max_wait
        self.max_pages = max_pages
        self.tz = tz or ZoneInfo("America/Sao_Paulo")
        self.http = http or httpx.Client(timeout=timeout)
        self.sleep = sleep
        self.clock = clock
        self.calls = 0

    @classmethod
    def from_settings(cls, settings: Settings, **options) -> OmieClient:
        key, secret = settings.omie_app_key, settings.omie_app_secret
        if not key or not secret or not key.get_secret_value() or (
                not secret.get_secret_value()):
            raise ConfigError("the Omie keys are not set: set NESSDATA_OMIE_APP_KEY "
                              "and NESSDATA_OMIE_APP_SECRET")
        values = dict(
            page_size=settings.omie_page_size, pause=settings.omie_pause_seconds,
            max_retries=settings.omie_max_retries,
            max_wait=settings.omie_max_wait_seconds,
            max_pages=settings.omie_max_pages,
            timeout=settings.omie_timeout_seconds, tz=settings.tz,
        )
        values.update(options)
        return cls(settings.omie_url, key.get_secret_value(),
                   secret.get_secret_value(), **values)

    def __repr__(self) -> str:
        return f"OmieClient({self.base_url!r}, key {self.key_id})"

    def close(self) -> None:
        self.http.close()

    # -- one call --------------------------------------------------------------------

    def call(self, service: str, method: str, param: dict[str, Any]) -> dict[str, Any]:
        """POST one call and return its JSON body, retrying what is transient.

        Raises OmieBlocked, OmieRequestError or UpstreamError; _NoRecords for 5113."""
        self.refuse_if_blocked()
        for attempt in range(self.max_retries + 1):
            try:
                return self._call_once(service, method, param)
            except _Transient as exc:
                wait = self._wait_for(exc, attempt, method)
                log.warning("Omie %s: %s; retry %d/%d in %.0fs", method, exc,
                            attempt + 1, self.max_retries, wait)
                self.sleep(wait)
        raise AssertionError("unreachable")

    def refuse_if_blocked(self) -> None:
        until = _BLOCKED.get(self.key_id)
        if until and until > now_utc():
            raise OmieBlocked(_blocked_message(until), until)

    def _wait_for(self, exc: _Transient, attempt: int, method: str) -> float:
        if attempt >= self.max_retries:
            raise UpstreamError(f"Omie {method} still failing after "
                                f"{self.max_retries} retries: {exc}", source="omie")
        if exc.wait is None:
            return min(BACKOFF_FIRST * 2 ** attempt, BACKOFF_MAX)
        if exc.wait > self.max_wait:
            # Waiting that long inside a run holds it open; a later run does better.
            raise UpstreamError(f"Omie {method}: {exc} (asked to wait "
                                f"{exc.wait:.0f}s, more than the "
                                f"{self.max_wait:.0f}s allowed: run again later)",
                                source="omie")
        return max(exc.wait, 0.0)

    def _call_once(self, service: str, method: str, param: dict[str, Any]
                   ) -> dict[str, Any]:
        url = f"{self.base_url}/{service.strip('/')}/"
        body = {"call": method, "app_key": self._app_key,
                "app_secret": self._app_secret, "param": [param]}
        gate = _gate(self.key_id, method)
        with gate.lock:
            self._pause(gate)
            try:
                response = self.http.post(url, json=body)
            except httpx.TimeoutException as exc:
                raise _Transient(f"timed out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise _Transient(f"connection failed ({type(exc).__name__})") from exc
            finally:
                gate.last_call = self.clock()
                self.calls += 1
        log.debug("Omie %s %s: HTTP %d", method, _short(param), response.status_code)
        return self._judge(method, response)

    def _pause(self, gate: _MethodGate) -> None:
        if gate.last_call is None or self.pause <= 0:
            return
        # Clamped: a clock that went backwards must not mean a long sleep.
        left = min(self.pause - (self.clock() - gate.last_call), self.pause)
        if left > 0:
            self.sleep(left)

    # -- reading the answer ----------------------------------------------------------

    def _judge(self, method: str, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        data = _json_body(response)
        fault = _fault(data)
        if status == 425 or (fault and _is_block(*fault)):
            self._block(method, fault)
        if fault:
            return self._fault_answer(method, status, *fault)
        if status == 429:
            raise _Transient("HTTP 429 (too many requests)",
                             _retry_after(response.headers.get("Retry-After")))
        if data is None:
            raise _Transient(f"HTTP {status} with a body that is not JSON "
                             f"({_content_type(response)})")
        if status >= 500:
            raise _Transient(f"HTTP {status}")
        if status >= 400 or not isinstance(data, dict):
            raise OmieRequestError(f"Omie {method}: HTTP {status}, unexpected body "
                                   f"{_short(data)}", status=status, source="omie")
        return data

    def _fault_answer(self, method: str, status: int, code: str, text: str):
        if code == NO_RECORDS:
            raise _NoRecords(text)
        if code in TRANSIENT_CODES or code.startswith("SOAP-ENV:Server") or (
                "REDUNDANT" in text or status == 429):
            raise _Transient(f"{code}: {text}", self._told_wait(text))
        raise OmieRequestError(f"Omie {method} refused the request: {code}: {text}",
                               status=status, source="omie")

    def _told_wait(self, text: str) -> float | None:
        seconds = _WAIT_SECONDS.search(text)
        if seconds:
            return float(seconds.group(1))
        at = _RETRY_AT.search(text)
        if at:
            return _seconds_until(at, self.tz)
        return None

    def _block(self, method: str, fault: tuple[str, str] | None):
        text = fault[1] if fault else "HTTP 425"
        told = _WAIT_SECONDS.search(text)
        wait = timedelta(seconds=int(told.group(1))) if told else BLOCK_WAIT_DEFAULT
        until = now_utc() + wait
        _BLOCKED[self.key_id] = until
        raise OmieBlocked(f"Omie {method}: the key is blocked ({text}); "
                          f"{_blocked_message(until)}", until)

    # -- paging ----------------------------------------------------------------------

    def pages(self, service: str, method: str, list_key: str,
              param: dict[str, Any]) -> Iterator[Page]:
        """Every page of a listing, up to total_de_paginas as page 1 gave it.

        5113 or an empty list ends early; more pages than max_pages is an error."""
        number, total = 1, 1
        while number <= total:
            if number > self.max_pages:
                raise UpstreamError(
                    f"Omie {method}: more than {self.max_pages} pages "
                    f"(total_de_paginas {total}); raise NESSDATA_OMIE_MAX_PAGES if "
                    "that is real", source="omie")
            query = {**param, "pagina": number,
                     "registros_por_pagina": self.page_size}
            try:
                data = self.call(service, method, query)
            except _NoRecords:
                return
            rows = data.get(list_key) or []
            if not isinstance(rows, list) or not all(
                    isinstance(row, dict) for row in rows):
                raise UpstreamError(f"Omie {method} page {number}: {list_key} is not "
                                    "a list of records", source="omie")
            if number == 1:
                total = _int(data.get("total_de_paginas", 1), "total_de_paginas")
            yield Page(number, total, rows)
            if not rows:
                return
            number += 1

    def rows(self, service: str, method: str, list_key: str, id_key: str,
             param: dict[str, Any], on_page: Callable[[Page], None] | None = None
             ) -> tuple[list[dict[str, Any]], int]:
        """The rows of every page, de-duplicated on `id_key`, and the number of
        duplicates dropped. A page of nothing but rows already read means the
        server is repeating pages: the result would be incomplete, so it fails."""
        seen: dict[Any, dict[str, Any]] = {}
        duplicates = 0
        for page in self.pages(service, method, list_key, param):
            new = 0
            for row in page.rows:
                key = row.get(id_key)
                if key in seen:
                    duplicates += 1
                    continue
                seen[key] = row
                new += 1
            if on_page:
                on_page(page)
            if page.rows and not new:
                raise UpstreamError(
                    f"Omie {method}: page {page.number} of {page.total_pages} "
                    "repeats rows already read; the listing would be incomplete",
                    source="omie")
        return list(seen.values()), duplicates


# -- parsing helpers -----------------------------------------------------------------

def parse_money(value: Any, field_name: str) -> Decimal:
    """A JSON number already parsed as Decimal (or int) → Decimal."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise UpstreamError(f"Omie sent {field_name}={value!r}: not a number",
                            source="omie")
    amount = Decimal(value)
    if not amount.is_finite() or amount != amount.quantize(CENT):
        # Stored as Numeric(18, 2): rounding it quietly would change the money.
        raise UpstreamError(f"Omie sent {field_name}={value!r}: not an amount in "
                            "whole cents", source="omie")
    return amount


def parse_date(value: Any, field_name: str) -> date | None:
    """`dd/mm/yyyy` → date; an empty or missing date → None."""
    if value in (None, ""):
        return None
    try:
        return datetime.strptime(str(value), "%d/%m/%Y").date()
    except ValueError as exc:
        raise UpstreamError(f"Omie sent {field_name}={value!r}: not a dd/mm/yyyy "
                            "date", source="omie") from exc


def format_date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def clear_blocks() -> None:
    """Forget the in-process blocks (tests; the database keeps the record)."""
    _BLOCKED.clear()


def _gate(key_id: str, method: str) -> _MethodGate:
    with _GATES_LOCK:
        return _GATES.setdefault((key_id, method), _MethodGate())


def _json_body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return None


def _fault(data: Any) -> tuple[str, str] | None:
    if isinstance(data, dict) and ("faultcode" in data or "faultstring" in data):
        return str(data.get("faultcode") or ""), str(data.get("faultstring") or "")
    return None


def _is_block(code: str, text: str) -> bool:
    return "MISUSE_API_PROCESS" in code or "MISUSE_API_PROCESS" in text or (
        "consumo indevido" in text.lower())


def _blocked_message(until: datetime) -> str:
    return (f"Omie blocked the key until {until:%Y-%m-%d %H:%M:%S} UTC; no call is "
            "made before then (calling extends the block)")


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _seconds_until(match: re.Match, tz: ZoneInfo) -> float:
    # Omie gives a wall-clock time in its own zone (Brasília), with no date.
    now = now_utc().astimezone(tz)
    hour, minute, second = (int(g) for g in match.groups())
    target = now.replace(hour=hour % 24, minute=minute, second=second, microsecond=0)
    if target < now - timedelta(minutes=1):
        target += timedelta(days=1)
    return max((target - now).total_seconds(), 1.0)


def _content_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "no content type").split(";")[0]


def _int(value: Any, field_name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise UpstreamError(f"Omie sent {field_name}={value!r}: not a whole number",
                            source="omie") from exc


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"
