"""The listening socket and the HTTP connection's timeouts: what uvicorn leaves open.

uvicorn closes an idle keep-alive connection, but a connection that sends half its headers, or a body a
byte a minute, is held for ever: 1,500 of them exhaust a server. `timed_protocol` adds a deadline for the
request headers and a limit on silence while a body arrives; `limit_concurrency` (uvicorn's) answers 503
past a number of connections.
"""

from __future__ import annotations

import asyncio
import socket

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from fakescope.errors import FakescopeError


def listen_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket with TCP_NODELAY, which accepted connections inherit. (asyncio sets NODELAY only
    on sockets whose protocol number says TCP; a plain `socket(AF_INET, SOCK_STREAM)` says 0, and every
    reused keep-alive connection then waited ~40 ms for a delayed ACK.)"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise FakescopeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def timed_protocol(header_timeout: float, idle_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request headers have not all come within
    `header_timeout` seconds of the connection (or of the previous response), or whose request body has
    been silent for `idle_timeout` seconds (time the server itself stopped reading does not count)."""

    class TimedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._waiting_since = self._heard = self.loop.time()
            self._watch = self.loop.call_later(1.0, self._check)

        def data_received(self, data: bytes) -> None:
            self._heard = self.loop.time()
            super().data_received(data)

        def on_response_complete(self) -> None:
            self._waiting_since = self.loop.time()
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._watch.cancel()
            super().connection_lost(exc)

        def _check(self) -> None:
            if self.transport.is_closing():
                return
            now = self.loop.time()
            between = self.cycle is None or self.cycle.response_complete  # waiting for a request's headers
            if between and now - self._waiting_since > header_timeout:
                self.transport.close()
                return
            receiving = not between and self.conn.their_state is h11.SEND_BODY
            if receiving and not self.flow.read_paused and now - self._heard > idle_timeout:
                self.transport.close()  # the app's receive() then sees a disconnect
                return
            if self.flow.read_paused:
                self._heard = now
            self._watch = self.loop.call_later(1.0, self._check)

    return TimedH11Protocol
