"""The daemon's HTTP listener (``[http] listen``, 127.0.0.1:8080 unless set; ``""`` turns it off).

One aiohttp server for everything served over HTTP: the web console, Slack's Events API endpoint
in http mode, and the operator's endpoints. Routes can be added while it runs (a connector adds its own when
it starts), so requests go through one catch-all handler that looks the route up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # aiohttp is imported when the listener starts: the config needs parse_listen only
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
        self._runner: web.AppRunner | None = None

    def route(self, method: str, path: str, handler: Handler, *, replace: bool = False) -> None:
        """Serve ``method path`` with ``handler``. ``replace``: the owner sets it again (a restart)."""
        key = (method.upper(), path)
        if key in self._routes and not replace:
            raise ValueError(f"{method} {path} is already served by another part of the bridge")
        self._routes[key] = handler

    async def start(self) -> None:
        from aiohttp import web

        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:  # an ephemeral port (tests): say which one
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        log.info("listening on http://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        handler = self._routes.get((request.method, request.path))
        if handler is None:
            if any(path == request.path for _, path in self._routes):
                return web.json_response({"error": "method not allowed"}, status=405)
            return web.json_response({"error": "not found"}, status=404)
        return await handler(request)
