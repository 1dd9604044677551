"""ASGI middleware: a request body limit and the security headers."""

from __future__ import annotations

import json

from .errors import WebError, error_body

# Everything the page needs comes from this app; nothing may load from elsewhere.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
       "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
       "form-action 'self'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class BodyTooLarge(WebError):
    status = 413


class BodyLimit:
    """Refuse bodies over `limit` bytes: by Content-Length before reading, and
    while reading for chunked bodies that carry no length."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit()
                                     or int(declared) > self.limit):
            return await self._refuse(send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self._message(), field="body")
            return message

        await self.app(scope, limited_receive, send)

    def _message(self) -> str:
        return (f"the request body is larger than {self.limit} bytes "
                "(NESSDATA_WEB_MAX_BODY_BYTES); send smaller batches")

    async def _refuse(self, send) -> None:
        body = json.dumps(error_body(413, self._message(), "body")).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()), (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        # The page and the API show financial data: no cache may keep a copy.
        # Static files (CSS, the chart script) may be cached.
        extra = HEADERS if scope["path"].startswith("/static/") else HEADERS + [
            (b"cache-control", b"no-store")]

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + extra
            return await send(message)

        await self.app(scope, receive, with_headers)
