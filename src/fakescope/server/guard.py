"""What a request must prove before the app sees it: that it was sent to a host this server is for (DNS
rebinding), that a state-changing request from a browser comes from our own pages (cross-site request
forgery), and, for people, a login session rather than the API token itself in a cookie.

Scripts are unaffected: they send `Authorization: Bearer TOKEN` (or nothing, on a server without a token),
and a browser cannot attach that header to a cross-site request without a CORS preflight, which this
server never grants.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SESSION_COOKIE = "fakescope_session"
SESSION_SECONDS = 12 * 3600
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def _hostname(netloc: str) -> str:
    """'Example.org:8000' -> 'example.org'; '[::1]:8000' -> '::1'."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1:netloc.find("]")] if "]" in netloc else netloc
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def _netloc(netloc: str, scheme: str) -> str:
    """Lower-case host[:port] without the scheme's default port, so 'x:80' and 'x' compare equal."""
    netloc = netloc.strip().lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    return netloc[:-len(default)] if default and netloc.endswith(default) else netloc


class HostGuard:
    """The Host names answered: the address the server listens on, localhost names, IP literals (a DNS
    rebinding attack always comes with a domain name), and the names an operator adds (`--allowed-host`,
    for a proxy's public name; `*.example.org` matches sub-domains; `*` turns the check off)."""

    def __init__(self, listen_host: str, allowed: Iterable[str] = ()) -> None:
        self.names = {h.strip().lower().strip("[]") for h in allowed if h.strip()}
        self.public = set(self.names)  # the operator's names: also origins our pages may come from (a proxy)
        if listen_host.lower() not in WILDCARD_HOSTS:
            self.names.add(listen_host.lower().strip("[]"))

    def allows(self, host_header: str) -> bool:
        host = _hostname(host_header)
        if not host:
            return False
        if "*" in self.names or host in self.names or host == "localhost" or host.endswith(".localhost"):
            return True
        if any(n.startswith("*.") and host.endswith(n[1:]) for n in self.names):
            return True
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
        return True


def cross_site_reason(method: str, headers: dict[str, str], scheme: str, guard: HostGuard,
                      cookie_auth: bool) -> str | None:
    """Why a request must be refused as possibly forged, or None. Only state-changing methods are judged.
    A browser says where a request comes from (Sec-Fetch-Site, else Origin); a request that says nothing is
    not from a modern browser, and is let through unless a cookie is what would authenticate it."""
    if method.upper() in SAFE_METHODS:
        return None
    if headers.get("authorization", "").lower().startswith("bearer "):
        return None  # a browser cannot send this cross-site without a preflight we never grant
    site, origin = headers.get("sec-fetch-site"), headers.get("origin")
    if site is not None:
        return None if site.lower() == "same-origin" else f"the browser says it came from a {site} page"
    if origin is not None:
        parts = urlsplit(origin)
        if origin == "null" or not parts.netloc:
            return "it came from a page with no origin"
        here = _netloc(parts.netloc, parts.scheme)
        if here == _netloc(headers.get("host", ""), scheme) or here in guard.public:
            return None
        return f"it came from {origin}"
    if cookie_auth:
        return "a login cookie came without an Origin header"
    return None


class Sessions:
    """Login sessions for people: a random id and an expiry, signed with a key made when the server
    starts, so the cookie is never the API token, runs out after SESSION_SECONDS, and a restart (or
    `revoke`) signs everyone out."""

    def __init__(self, lifetime: float = SESSION_SECONDS) -> None:
        self.lifetime = lifetime
        self._key = secrets.token_bytes(32)
        self._revoked: set[str] = set()

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    def issue(self) -> str:
        body = json.dumps([secrets.token_urlsafe(16), int(time.time() + self.lifetime)], separators=(",", ":"))
        return f"{body.encode().hex()}.{self._sign(body)}"

    def _body(self, value: str) -> list | None:
        encoded, _, signature = value.partition(".")
        try:
            body = bytes.fromhex(encoded).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        return json.loads(body)

    def valid(self, value: str) -> bool:
        body = self._body(value) if value else None
        return body is not None and body[1] > time.time() and body[0] not in self._revoked

    def revoke(self, value: str) -> None:
        body = self._body(value) if value else None
        if body is not None:
            self._revoked.add(body[0])
