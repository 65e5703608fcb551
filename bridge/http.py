"""The daemon's HTTP listener (``[http] listen``, 127.0.0.1:8080 unless set; ``""`` turns it off).

One aiohttp server for everything served over HTTP: the web console, Slack's Events API endpoint
in http mode, and the operator's endpoints. Routes can be added while it runs (a connector adds its own when
it starts), so requests go through one catch-all handler that looks the route up.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # aiohttp is imported when the first connection arrives (Listener.start)
    import asyncio

    from aiohttp import web

__all__ = ["DEFAULT_LISTEN", "Handler", "Listener", "parse_listen"]

log = logging.getLogger(__name__)

DEFAULT_LISTEN = "127.0.0.1:8080"  # the web console, when [http] listen is not set

Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]


def parse_listen(value: str) -> tuple[str, int]:
    """"127.0.0.1:8080", "[::1]:8080", ":8080" -> (host, port); ValueError otherwise."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError('must be "host:port", e.g. "127.0.0.1:8080"')
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


class Listener:
    def __init__(self, listen: str) -> None:
        self.host, self.port = parse_listen(listen)
        self._routes: dict[tuple[str, str], Handler] = {}
        self._later: list[Callable[[], None]] = []
        self._sockets: list[socket.socket] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._serving: asyncio.Task | None = None
        self._runner: web.AppRunner | None = None

    def route(self, method: str, path: str, handler: Handler, *, replace: bool = False) -> None:
        """Serve ``method path`` with ``handler``. ``replace``: the owner sets it again (a restart)."""
        key = (method.upper(), path)
        if key in self._routes and not replace:
            raise ValueError(f"{method} {path} is already served by another part of the bridge")
        self._routes[key] = handler

    def route_later(self, install: Callable[[], None]) -> None:
        """Routes that ``install`` adds when first needed: the first request no route serves runs
        it (once) and is looked up again. The console's pages and Jinja2 are imported only when
        a browser first asks: an idle daemon nobody browses keeps them out of its memory."""
        self._later.append(install)

    async def start(self) -> None:
        """Listen now (an address that cannot be served fails here, at start-up); aiohttp, about
        13 MB of the daemon's memory, is imported and takes over the sockets only when the first
        connection waits on them: a daemon nobody asks over HTTP never loads it."""
        import asyncio  # here, not at the top: the config imports this module for parse_listen

        self._loop = loop = asyncio.get_running_loop()
        addresses = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        try:
            for family, _, _, _, address in dict.fromkeys(addresses):
                self._sockets.append(_bound(family, address))
        except OSError:
            self._close_sockets()
            raise
        if self.port == 0:  # an ephemeral port (tests): say which one
            self.port = self._sockets[0].getsockname()[1]
        for sock in self._sockets:
            loop.add_reader(sock.fileno(), self._first_connection)
        log.info("listening on http://%s:%d", self.host, self.port)

    def _first_connection(self) -> None:
        assert self._loop is not None
        for sock in self._sockets:
            self._loop.remove_reader(sock.fileno())
        self._serving = self._loop.create_task(self._serve(), name="http listener")

    async def _serve(self) -> None:
        from aiohttp import web

        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        for sock in self._sockets:
            await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._serving is not None:
            await self._serving
            self._serving = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._close_sockets()

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            if sock.fileno() != -1:
                if self._loop is not None:
                    self._loop.remove_reader(sock.fileno())
                sock.close()
        self._sockets = []

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        handler = self._routes.get((request.method, request.path))
        while handler is None and self._later:
            self._later.pop(0)()  # synchronous: a request arriving meanwhile finds the routes in place
            handler = self._routes.get((request.method, request.path))
        if handler is None:
            if any(path == request.path for _, path in self._routes):
                return web.json_response({"error": "method not allowed"}, status=405)
            return web.json_response({"error": "not found"}, status=404)
        return await handler(request)


def _bound(family: int, address: tuple) -> socket.socket:
    """A listening socket on ``address``, as aiohttp's own TCPSite would open it (SO_REUSEADDR;
    an IPv6 one for IPv6 only, so "::" and "0.0.0.0" can both be served)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
