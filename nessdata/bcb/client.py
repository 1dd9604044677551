"""HTTP client of the two BCB APIs: SGS (numbered series) and PTAX (OData).

It retries what BCB does when busy (an XHTML page with status 200, 429, 5xx,
timeouts, dropped connections) with exponential backoff and jitter, and fails at
once, with BCB's own message, on what retrying cannot fix (400, 406)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from ..errors import InvalidValue, UpstreamError
from ..settings import Settings
from .rates import RateSeries

log = logging.getLogger(__name__)

WINDOW_YEARS = 5
MAX_LATEST = 20
MAX_RETRY_WAIT = 60.0
USER_AGENT = "nessdata (BCB rates sync)"


@dataclass(frozen=True)
class Observation:
    ref_date: date
    value: Decimal
    value_buy: Decimal | None = None
    value_sell: Decimal | None = None


class _Transient(Exception):
    """A failure worth another try; becomes an UpstreamError when tries run out."""

    def __init__(self, message: str, status: int | None = None):
        self.status = status
        super().__init__(message)


class BcbClient:
    """Fetches observations of a series over a window of dates."""

    def __init__(self, sgs_url: str, ptax_url: str, *,
                 http: httpx.Client | None = None, timeout: float = 30.0,
                 attempts: int = 5, retry_wait: float = 2.0, pause: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep):
        self.sgs_url = sgs_url.rstrip("/")
        self.ptax_url = ptax_url.rstrip("/")
        self._own_http = http is None
        self.http = http or httpx.Client(
            timeout=timeout, headers={"User-Agent": USER_AGENT,
                                      "Accept": "application/json"})
        self.attempts = attempts
        self.retry_wait = retry_wait
        self.pause = pause
        self.sleep = sleep
        self.requests = 0
        self._last_request: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **options) -> BcbClient:
        return cls(settings.bcb_sgs_url, settings.bcb_ptax_url,
                   timeout=settings.bcb_timeout, attempts=settings.bcb_attempts,
                   retry_wait=settings.bcb_retry_wait, pause=settings.bcb_pause,
                   **options)

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> BcbClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the public calls ------------------------------------------------------

    def fetch(self, series: RateSeries, first: date, last: date) -> list[Observation]:
        """Observations of one window (at most WINDOW_YEARS long is safe)."""
        if series.api == "ptax":
            return self.ptax(first, last)
        return self.sgs(series.code, first, last)

    def fetch_range(self, series: RateSeries, first: date, last: date
                    ) -> list[Observation]:
        """Observations of any range, asked in windows of at most 5 years."""
        found: list[Observation] = []
        for start, end in windows(first, last):
            found.extend(self.fetch(series, start, end))
        return found

    def sgs(self, code: int, first: date, last: date) -> list[Observation]:
        what = f"BCB SGS series {code} {first:%d/%m/%Y}–{last:%d/%m/%Y}"
        url = f"{self.sgs_url}/bcdata.sgs.{code}/dados"
        params = {"formato": "json", "dataInicial": f"{first:%d/%m/%Y}",
                  "dataFinal": f"{last:%d/%m/%Y}"}
        rows = self._get(url, params, what, parse_sgs)
        return _inside(rows, first, last, what)

    def sgs_latest(self, code: int, count: int) -> list[Observation]:
        """The last `count` observations of an SGS series (BCB allows 1 to 20)."""
        if not 1 <= count <= MAX_LATEST:
            raise InvalidValue("count", count, f"SGS /ultimos/N allows N from 1 to "
                               f"{MAX_LATEST}; ask a date window instead")
        what = f"BCB SGS series {code} last {count}"
        url = f"{self.sgs_url}/bcdata.sgs.{code}/dados/ultimos/{count}"
        return self._get(url, {"formato": "json"}, what, parse_sgs)

    def ptax(self, first: date, last: date) -> list[Observation]:
        what = f"BCB PTAX {first:%d/%m/%Y}–{last:%d/%m/%Y}"
        rows = self._get(ptax_url(self.ptax_url, first, last), None, what,
                         parse_ptax)
        return _inside(rows, first, last, what)

    # -- one request, retried --------------------------------------------------

    def _get(self, url: str, params: dict | None, what: str,
             parse: Callable[[bytes, str], list[Observation]]) -> list[Observation]:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=(wait_exponential(multiplier=self.retry_wait, max=MAX_RETRY_WAIT)
                  + wait_random(0, self.retry_wait)),
            retry=retry_if_exception_type(_Transient),
            sleep=self.sleep,
            before_sleep=_warn_retry(what, self.attempts),
            reraise=True,
        )
        try:
            return retrying(self._get_once, url, params, what, parse)
        except _Transient as exc:
            raise UpstreamError(f"{what}: {exc} (gave up after {self.attempts} "
                                "tries)", status=exc.status, source="bcb") from exc

    def _get_once(self, url: str, params: dict | None, what: str,
                  parse: Callable[[bytes, str], list[Observation]]
                  ) -> list[Observation]:
        self._wait_pause()
        self.requests += 1
        log.debug("GET %s %s", url, params or "")
        try:
            response = self.http.get(url, params=params)
        except httpx.TimeoutException as exc:
            raise _Transient(f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _Transient(f"connection failed ({type(exc).__name__}: {exc})"
                             ) from exc
        finally:
            self._last_request = time.monotonic()
        body = _check(response, what)
        return parse(body, what) if body is not None else []

    def _wait_pause(self) -> None:
        if self._last_request is None or not self.pause:
            return
        remaining = self.pause - (time.monotonic() - self._last_request)
        if remaining > 0:
            self.sleep(remaining)


def _warn_retry(what: str, attempts: int) -> Callable[[RetryCallState], None]:
    def warn(state: RetryCallState) -> None:
        log.warning("%s: %s; try %d of %d again in %.1fs", what,
                    state.outcome.exception(), state.attempt_number + 1, attempts,
                    state.next_action.sleep if state.next_action else 0.0)

    return warn


def _check(response: httpx.Response, what: str) -> bytes | None:
    """The body of a usable response, None for "no data in this window"; raises
    _Transient for what a retry may fix and UpstreamError for the rest."""
    status, body = response.status_code, response.content
    if status == 429 or status >= 500:
        raise _Transient(f"HTTP {status}", status)
    if status in (400, 406):
        raise UpstreamError(f"{what} refused (HTTP {status}): {bcb_message(body)}",
                            status=status, source="bcb")
    if status == 404 and _looks_like_json(body):
        # SGS answers a window without data with 404 and a JSON "not found".
        return None
    if status != 200:
        raise UpstreamError(f"{what}: HTTP {status} {_snippet(body)}; check the "
                            "NESSDATA_BCB_*_URL settings", status=status,
                            source="bcb")
    if _looks_like_markup(body, response.headers.get("content-type", "")):
        raise _Transient(f"an XHTML page instead of JSON, BCB's sign of "
                         f"throttling ({_page_title(body)})", status)
    return body


# -- parsing -------------------------------------------------------------------

def parse_sgs(body: bytes, what: str = "BCB SGS") -> list[Observation]:
    data = _load_json(body, what)
    if data is None:
        return []
    if not isinstance(data, list):
        raise UpstreamError(f"{what}: expected a JSON array, got {_snippet(body)}",
                            source="bcb")
    found = []
    for row in data:
        value = row.get("valor") if isinstance(row, dict) else None
        if value in (None, ""):
            log.warning("%s: row without a value skipped: %r", what, row)
            continue
        found.append(Observation(_sgs_date(row.get("data"), what),
                                 _decimal(value, "valor", what)))
    return _last_per_date(found, [o.ref_date for o in found])


def parse_ptax(body: bytes, what: str = "BCB PTAX") -> list[Observation]:
    """Closing quotes, the latest row of each date when a date has several."""
    data = _load_json(body, what)
    if data is None:
        return []
    rows = data.get("value") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise UpstreamError(f"{what}: no `value` array in {_snippet(body)}",
                            source="bcb")
    keyed = []
    for row in rows:
        stamp = ptax_timestamp(row.get("dataHoraCotacao"), what)
        buy = _decimal(row.get("cotacaoCompra"), "cotacaoCompra", what)
        sell = _decimal(row.get("cotacaoVenda"), "cotacaoVenda", what)
        keyed.append((stamp, Observation(stamp.date(), sell, buy, sell)))
    keyed.sort(key=lambda pair: pair[0])
    return _last_per_date([o for _, o in keyed], [o.ref_date for _, o in keyed])


_PTAX_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d*))?")


def ptax_timestamp(text: Any, what: str = "BCB PTAX") -> datetime:
    """`dataHoraCotacao` (Brasília wall time, any number of fraction digits) as a
    naive datetime; it only orders the quotes of one day."""
    match = _PTAX_STAMP.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise UpstreamError(f"{what}: dataHoraCotacao={text!r} is not "
                            "'YYYY-MM-DD HH:MM:SS[.fff]'", source="bcb")
    day, clock, fraction = match.groups()
    micro = int(((fraction or "") + "000000")[:6])
    return datetime.fromisoformat(f"{day} {clock}").replace(microsecond=micro)


def bcb_message(body: bytes) -> str:
    """BCB's explanation in an error body (SGS `error`/`message`, SGS `erro.detail`,
    OData `error.message`), or the start of the body."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _snippet(body)
    if not isinstance(data, dict):
        return _snippet(body)
    nested = data.get("erro") or data.get("error")
    if isinstance(nested, dict):
        detail = nested.get("detail") or nested.get("message")
        if isinstance(detail, dict):
            detail = detail.get("value")
        return str(detail or nested)
    parts = [str(data[key]) for key in ("error", "message") if data.get(key)]
    return " — ".join(parts) or _snippet(body)


# -- dates and windows ---------------------------------------------------------

def ptax_url(base: str, first: date, last: date) -> str:
    """The CotacaoDolarPeriodo URL. PTAX dates are month-first: 4 March 2025 is
    '03-04-2025'."""
    return (f"{base.rstrip('/')}/CotacaoDolarPeriodo(dataInicial=@dataInicial,"
            f"dataFinalCotacao=@dataFinalCotacao)?@dataInicial='{first:%m-%d-%Y}'"
            f"&@dataFinalCotacao='{last:%m-%d-%Y}'&$format=json")


def windows(first: date, last: date, years: int = WINDOW_YEARS
            ) -> Iterator[tuple[date, date]]:
    """Consecutive windows covering first..last, each at most `years` long (SGS
    refuses daily series over 10 years)."""
    start = first
    while start <= last:
        end = min(_add_years(start, years) - timedelta(days=1), last)
        yield start, end
        start = end + timedelta(days=1)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _inside(rows: list[Observation], first: date, last: date, what: str
            ) -> list[Observation]:
    # SGS has been seen answering a window without data with the last older point.
    kept = [row for row in rows if first <= row.ref_date <= last]
    if len(kept) != len(rows):
        log.debug("%s: %d rows outside the window dropped", what,
                  len(rows) - len(kept))
    return kept


def _last_per_date(rows: list[Observation], dates: list[date]) -> list[Observation]:
    latest = dict(zip(dates, rows, strict=True))
    return [latest[day] for day in sorted(latest)]


def _sgs_date(text: Any, what: str) -> date:
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except (TypeError, ValueError) as exc:
        raise UpstreamError(f"{what}: data={text!r} is not DD/MM/YYYY",
                            source="bcb") from exc


def _decimal(value: Any, field: str, what: str) -> Decimal:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        number = None
    if number is None or isinstance(value, bool) or not number.is_finite():
        raise UpstreamError(f"{what}: {field}={value!r} is not a number",
                            source="bcb")
    return number


def _load_json(body: bytes, what: str) -> Any:
    # utf-8-sig: bodies saved by some tools start with a byte-order mark.
    text = body.decode("utf-8-sig", errors="replace").strip()
    if not text:
        return None
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise _Transient(f"a body that is not JSON ({exc.msg}: "
                         f"{_snippet(body)})") from exc


def _looks_like_json(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def _looks_like_markup(body: bytes, content_type: str) -> bool:
    return "html" in content_type or body.lstrip()[:1] == b"<"


def _page_title(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    match = re.search(r"<(?:title|h1)[^>]*>([^<]+)<", text, re.IGNORECASE)
    return match.group(1).strip() if match else _snippet(body)


def _snippet(body: bytes, limit: int = 120) -> str:
    text = " ".join(body.decode("utf-8", errors="replace").split())
    return repr(text[:limit] + ("…" if len(text) > limit else ""))
