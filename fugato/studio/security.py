"""What keeps other web pages and other names from driving the studio, as ASGI middleware.

A page on any site the composer visits can make their browser send requests to the studio.
Three rules keep it out, for every route (the listening tests' too):

- The `Host` header must name the studio: the address it was bound to, `localhost`,
  `127.0.0.1` or `[::1]` (a studio bound to every address also answers to any IP address and
  the machine's own names). Any other name is how DNS rebinding reaches a loopback server.
- A request that changes state (anything but GET, HEAD, OPTIONS) must come from the studio's
  own page: `Sec-Fetch-Site` same-origin or none where the browser sends it, else an `Origin`
  whose host is the `Host`. A request with neither is not from a web page (every current
  browser sends one of them with a write), so scripts and curl keep working: the rule of Go's
  `net/http.CrossOriginProtection`.
- Every response forbids inline script, framing and content-type guessing, and sends no
  referrer.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
EVERY_ADDRESS = ("", "0.0.0.0", "::")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
          "form-action 'self'; frame-ancestors 'none'")
"""No inline script or style, nothing from elsewhere (the favicon is an empty data: URL)."""
HEADERS = [(b"content-security-policy", POLICY.encode()),
           (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]


def host_name(host: str) -> str:
    """The name in a `Host` header, lower case, without its port: "[::1]:8765" -> "::1"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class Guard:
    """The rules of the module docstring around an ASGI app served on `host`."""

    def __init__(self, app: ASGIApp, host: str) -> None:
        self.app = app
        self.every_address = host in EVERY_ADDRESS
        names = {*LOCAL_NAMES, host_name(host if ":" not in host else f"[{host}]")}
        if self.every_address:
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        self.names = frozenset(names - {""})

    def refusal(self, method: str, headers: Headers) -> tuple[int, str] | None:
        """(status, one-line reason) for a request the studio refuses, else None."""
        host = headers.get("host", "")
        name = host_name(host)
        if name not in self.names and not (self.every_address and is_address(name)):
            return 400, (f"Host {host!r} is not this studio's name (it answers to "
                         f"{', '.join(sorted(self.names))}; --host adds one)")
        if method in SAFE_METHODS:
            return None
        site, origin = headers.get("sec-fetch-site"), headers.get("origin")
        if site is not None:
            allowed = site in ("same-origin", "none")
        else:
            allowed = origin is None or (
                urlsplit(origin).scheme == "http" and urlsplit(origin).netloc == host.lower())
        if allowed:
            return None
        return 403, "a change from another web page is refused: use the studio's own page"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        refused = self.refusal(scope["method"], Headers(scope=scope))
        if refused is None:
            await self.app(scope, receive, send_with_headers)
        else:
            status, reason = refused
            await JSONResponse({"error": reason}, status)(scope, receive, send_with_headers)
