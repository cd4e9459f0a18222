"""The service's guard, one ASGI middleware in front of every route (docs/architecture.md, 'The service').

- **Host**: on a loopback address only requests naming a loopback host are served, so a web page that
  rebinds its own domain name to 127.0.0.1 (DNS rebinding) cannot read the API.
- **Token**: required when one is set (always, off loopback): ``Authorization: Bearer``, the
  ``X-Thresher-Token`` header, or the cookie the page ``/?token=…`` sets (HttpOnly, SameSite=Strict) before
  redirecting to a URL without it. Compared in constant time; never echoed by any endpoint.
- **CSRF**: a request that changes state (POST, PUT, PATCH, DELETE) must carry the header
  ``X-Thresher-Request`` and, when it has a body, ``Content-Type: application/json``. A page of another
  origin cannot send either without a CORS preflight, which this server never grants; an ``Origin`` header
  that is not this server's is refused too. SameSite=Strict keeps the cookie off cross-site requests.
- **Body size**: bodies over :data:`~thresher.service.config.MAX_BODY_BYTES` are refused (413), whatever
  their declared length.
- **Headers**: a Content-Security-Policy with no inline script and nothing from another origin, no
  sniffing, no framing, no referrer.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_COOKIE = "thresher_token"
REQUEST_HEADER = b"x-thresher-request"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class Guard:
    def __init__(self, app: ASGIApp, *, token: str | None, loopback: bool, max_body: int) -> None:
        self.app = app
        self.token = token
        self.loopback = loopback
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        method = scope["method"]
        refusal = self._refusal(scope, headers, method)
        if refusal is not None:
            status, message = refusal
            await _send_json(send, status, {"detail": message})
            return
        if self.token is not None and scope["path"] == "/" and "token" in _query(scope):
            await self._login(scope, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        received = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            await _send_json(send, 413, {"detail": f"request body over {self.max_body} bytes"})

    def _refusal(self, scope: Scope, headers: dict[bytes, bytes], method: str) -> tuple[int, str] | None:
        host = headers.get(b"host", b"").decode("latin-1")
        if self.loopback and _hostname(host) not in LOOPBACK_NAMES:
            return 403, "this server answers requests for localhost only"
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return 413, f"request body over {self.max_body} bytes"
        is_login = scope["path"] == "/" and "token" in _query(scope)
        guarded = scope["path"].startswith(("/api", "/docs", "/openapi.json"))
        if self.token is not None and guarded and not is_login and not self._authorized(headers):
            return 401, "a token is required: open the URL the server printed, or send Authorization: Bearer"
        if method in UNSAFE_METHODS:
            if REQUEST_HEADER not in headers:
                return 403, "state-changing requests need the X-Thresher-Request header (CSRF protection)"
            origin = headers.get(b"origin")
            if origin is not None and origin.decode("latin-1").split("://", 1)[-1] != host:
                return 403, "cross-origin request refused"
            content_type = headers.get(b"content-type", b"").split(b";")[0].strip()
            if (length not in (None, b"0")) and content_type != b"application/json":
                return 415, "request bodies must be application/json"
        return None

    def _authorized(self, headers: dict[bytes, bytes]) -> bool:
        assert self.token is not None
        offered: list[str] = []
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if auth.lower().startswith("bearer "):
            offered.append(auth[7:].strip())
        if b"x-thresher-token" in headers:
            offered.append(headers[b"x-thresher-token"].decode("latin-1"))
        cookie = SimpleCookie(headers.get(b"cookie", b"").decode("latin-1"))
        if TOKEN_COOKIE in cookie:
            offered.append(cookie[TOKEN_COOKIE].value)
        return any(hmac.compare_digest(o.encode(), self.token.encode()) for o in offered)

    async def _login(self, scope: Scope, send: Send) -> None:
        """``/?token=T``: set the cookie and redirect to the page without the token in its URL."""
        query = _query(scope)
        offered = query.pop("token", [""])[0]
        if not hmac.compare_digest(offered.encode(), (self.token or "").encode()):
            await _send_json(send, 401, {"detail": "wrong token"})
            return
        location = "/" + ("?" + urlencode(query, doseq=True) if query else "")
        cookie = f"{TOKEN_COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", location.encode()),
                    (b"set-cookie", cookie.encode()),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


class BodyTooLarge(Exception):
    pass


def _query(scope: Scope) -> dict[str, list[str]]:
    return parse_qs(scope.get("query_string", b"").decode("latin-1"))


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
