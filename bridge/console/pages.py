"""The console's pages and actions, served on the daemon's HTTP listener.

Every page is rendered on the server (Jinja2) and reads without JavaScript; the small script in
static/console.js refreshes the parts marked ``data-live`` by fetching the same page again. The
numbers ``status`` also shows come from ``bridge.status.collect``, the one place they are counted.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from importlib import resources
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from bridge import activity
from bridge.console import queries
from bridge.console.auth import COOKIE, LOGIN_PATH, Guard
from bridge.console.chart import delivered_chart
from bridge.console.costs import Costs
from bridge.console.editing import SourceEditor
from bridge.console.signin import CALLBACK, SignIns
from bridge.limits import format_window
from bridge.status import collect, format_duration, limit_text, local_midnight, skip_totals

if TYPE_CHECKING:
    from aiohttp import web

    from bridge.config import Config
    from bridge.http import Listener
    from bridge.store import Store

__all__ = ["Console"]

# nothing from elsewhere, no inline script or style; frames and other sites' forms shut out
CSP = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'{}; frame-ancestors 'none'"
HEADERS = {
    "Content-Security-Policy": CSP.format(""),
    "X-Content-Type-Options": "nosniff",
    # not no-referrer: under it a browser sends "Origin: null" with a form's POST, which the
    # origin check must refuse; same-origin keeps addresses from leaving for other sites
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
NAV = [("/", "Overview"), ("/activity", "Activity"), ("/skipped", "Skipped"), ("/problems", "Problems"),
       ("/sources", "Sources"), ("/signin", "Sign in")]
STATIC = {"/static/console.css": "text/css", "/static/console.js": "text/javascript"}


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    at = datetime.fromtimestamp(ts).astimezone()
    return f"{at:%H:%M:%S}" if at.date() == datetime.now().astimezone().date() else f"{at:%Y-%m-%d %H:%M}"


def _iso_when(value: str | None) -> str:
    return _when(datetime.fromisoformat(value).timestamp()) if value else "-"


def _about(seconds: float) -> str:
    """An estimate's duration after "in": "in about 25 min", but "in less than a minute"."""
    text = format_duration(seconds)
    return text if text.startswith(("less", "a minute")) else f"about {text}"


def _links(text: str) -> Markup:
    """Text with its web addresses as links (the provider's sign-in page), every part escaped."""
    parts = re.split(r"(https?://[^\s<>\"']+)", text)
    return Markup("").join(Markup('<a href="{0}">{0}</a>').format(part) if n % 2 else escape(part)
                           for n, part in enumerate(parts))


def _advice(error: str | None) -> str:
    """What a person can do about a failing source, from its error."""
    text = (error or "").lower()
    if "omi-bridge login" in text or "sign in" in text or "signed in" in text:
        return "Sign in again: omi-bridge login NAME on the machine (the source recovers by itself)."
    if "password" in text or "authentication failed" in text or "authenticationfailed" in text:
        return "The password was refused: correct it in the config, then systemctl reload omi-bridge."
    return "The bridge keeps retrying by itself; the error says what it met."


class Console:
    def __init__(self, config: Callable[[], Config], store: Store, wake: Callable[[], None],
                 reload: Callable[[], None] | None = None) -> None:
        self._config = config
        self.store = store
        self._wake = wake  # the dispatcher, after Retry
        self.guard = Guard(config().state_path)
        self.signins = SignIns(config)
        self.costs = Costs(config, store)
        self.editor = SourceEditor(config, store, reload, self.signins.start)
        self.env = Environment(loader=PackageLoader("bridge.console", "templates"), autoescape=select_autoescape(),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(when=_when, iso_when=_iso_when, duration=format_duration, links=_links, about=_about)
        folder = resources.files("bridge.console") / "static"
        self._static = {path: (folder / path.rsplit("/", 1)[1]).read_bytes() for path in STATIC}

    def install(self, listener: Listener) -> None:
        pages = {"/": self._overview, "/activity": self._activity, "/conversation": self._conversation,
                 "/skipped": self._skipped, "/problems": self._problems, "/source": self._source,
                 "/signin": self._signin, "/sources": self.editor.listing, "/sources/add": self.editor.add_form,
                 "/sources/edit": self.editor.change_form, "/sources/choices": self.editor.choices_page}
        for path, build in pages.items():
            listener.route("GET", path, self._page(build), replace=True)
        listener.route("POST", "/problems/retry", self._action(self._retry), replace=True)
        listener.route("POST", "/signin/start", self._action(self._start_signin), replace=True)
        listener.route("POST", "/signin/browser", self._action(self._start_browser, with_request=True), replace=True)
        listener.route("POST", "/signin/password", self._action(self._start_password), replace=True)
        listener.route("GET", CALLBACK, self._callback, replace=True)
        listener.route("POST", "/source/plan", self._action(self._count_costs), replace=True)
        for path, act in (("/sources/add", self.editor.add), ("/sources/edit", self.editor.change),
                          ("/sources/pause", self.editor.pause),
                          ("/sources/remove", self.editor.remove), ("/sources/forget", self.editor.forget)):
            listener.route("POST", path, self._action(act), replace=True)
        listener.route("GET", LOGIN_PATH, self._login, replace=True)
        for path in STATIC:
            listener.route("GET", path, self._file, replace=True)

    # -- the gate ---------------------------------------------------------------------------

    def _respond(self, html: str, status: int = 200, form_targets: list[str] | None = None) -> web.Response:
        """A page. ``form_targets``: origins its forms may lead to besides the console (a
        browser sign-in's POST is answered with a redirect to the provider, which form-action
        governs too)."""
        from aiohttp import web

        headers = HEADERS
        if form_targets:
            headers = {**HEADERS, "Content-Security-Policy": CSP.format("".join(f" {o}" for o in form_targets))}
        return web.Response(text=html, status=status, content_type="text/html", headers=headers)

    def _refused(self, status: int = 401, why: str | None = None) -> web.Response:
        signed_out = status == 401
        html = self.env.get_template("refused.html").render(
            config=self._config().source if signed_out else None, why=why, nav=[] if signed_out else NAV,
            title="Sign in to the console" if signed_out else "Action refused")
        return self._respond(html, status)

    def _page(self, build: Callable[[web.Request], dict[str, Any]]) -> Callable[[web.Request], Awaitable[Any]]:
        async def page(request: web.Request) -> web.StreamResponse:
            if not self.guard.signed_in(request):
                return self._refused()
            context = await asyncio.to_thread(build, request)
            if "status" in context:
                return self._respond(self.env.get_template("refused.html").render(nav=NAV, **context),
                                     context["status"])
            targets = context.pop("form_targets", None)
            html = self.env.get_template(context.pop("template")).render(
                nav=NAV, csrf=self.guard.csrf, path=request.path, **context)
            return self._respond(html, form_targets=targets)

        return page

    def _action(self, act: Callable[..., str | dict[str, Any]], *,
                with_request: bool = False) -> Callable[[web.Request], Awaitable[Any]]:
        """A POST, guarded; its answer a redirect (the address ``act`` gives) or, where ``act``
        gives a page's context (a form refused field by field), that page. ``with_request``:
        ``act`` is also given the request (where the browser reached the console)."""
        async def action(request: web.Request) -> web.StreamResponse:
            from aiohttp import web

            if not self.guard.signed_in(request):
                return self._refused()
            if not self.guard.same_origin(request):
                return self._refused(403, "This action came from another site, or without saying where from.")
            form = dict(await request.post())
            if not self.guard.form_ok(form):
                return self._refused(403, "This form is out of date: open the page again and repeat the action.")
            where = await asyncio.to_thread(act, form, *([request] if with_request else []))
            if isinstance(where, dict):
                html = self.env.get_template(where.pop("template")).render(
                    nav=NAV, csrf=self.guard.csrf, path=request.path, **where)
                return self._respond(html)
            raise web.HTTPSeeOther(where, headers=HEADERS)

        return action

    async def _login(self, request: web.Request) -> web.StreamResponse:
        """The printed link: the token for a cookie, then the clean address."""
        from aiohttp import web

        if not self.guard.token_matches(request.query.get("token", "")):
            return self._refused(401, "That link's token is not this console's (it may have been replaced).")
        response = web.HTTPSeeOther("/", headers=HEADERS)
        response.set_cookie(COOKIE, self.guard.session, httponly=True, samesite="Strict", path="/",
                            secure=request.headers.get("X-Forwarded-Proto") == "https")
        return response

    async def _file(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        return web.Response(body=self._static[request.path], content_type=STATIC[request.path],
                            headers={**HEADERS, "Cache-Control": "max-age=300"})

    # -- pages ------------------------------------------------------------------------------

    def _overview(self, request: web.Request) -> dict[str, Any]:
        info = collect(self._config(), self.store)
        now = time.time()
        backlog = info["backlog"]
        waiting = backlog["live"] + backlog["backfill"]
        limit = backlog["limit"]
        window = limit["window_seconds"]
        return {
            "template": "overview.html", "title": "Overview", "info": info,
            "used": len(self.store.request_times("write", now - window)), "window": format_window(window),
            "limit": limit_text(limit["count"], limit["window_seconds"], limit["source"]),
            "chart": delivered_chart(queries.delivered_per_hour(self.store, now), now, waiting,
                                     backlog["eta_seconds"]),
        }

    def _activity(self, request: web.Request) -> dict[str, Any]:
        source = request.query.get("source") or None
        search = request.query.get("q", "").strip()
        day = _day(request.query.get("day", ""))
        before = request.query.get("before") or None
        found = queries.activity(self.store, source=source, search=search, before=before,
                                 until=(day + timedelta(days=1)).timestamp() if day else None)
        kept = {"source": source or "", "q": search, "day": request.query.get("day", "") if day else ""}
        return {"template": "activity.html", "title": "Activity", "rows": found.rows, "source": source, "q": search,
                "day": kept["day"], "sources": list(self._config().connectors), "paged": bool(before),
                "older": f"/activity?{_query(**kept, before=found.older)}" if found.older else None,
                "newest": f"/activity?{_query(**kept)}"}

    def _conversation(self, request: web.Request) -> dict[str, Any]:
        row_id = _number(request.query.get("id"))
        row = queries.conversation(self.store, int(row_id)) if row_id is not None else None
        if row is None:
            return {"status": 404, "title": "Not found", "why": "No conversation has that number."}
        return {"template": "conversation.html", "title": row["label"] or row["source_key"], "row": row}

    def _skipped(self, request: web.Request) -> dict[str, Any]:
        source = request.query.get("source") or None
        kind = request.query.get("reason") or None
        totals = skip_totals(self.store, local_midnight().timestamp())  # what collect gives status, alone
        reasons = queries.reasons_of_kind(self.store, source, kind) if kind else None
        items = queries.skipped_items(self.store, source=source, reasons=reasons)
        return {"template": "skipped.html", "title": "Skipped", "totals": totals, "items": items,
                "source": source, "reason": kind, "grand": sum(t["total"] for t in totals)}

    def _problems(self, request: web.Request) -> dict[str, Any]:
        info = collect(self._config(), self.store)
        failing = [{**c, "advice": _advice(c["last_error"])} for c in info["connectors"] if c["state"] == "failing"]
        return {"template": "problems.html", "title": "Problems", "info": info, "failing": failing,
                "dead": queries.dead_rows(self.store), "revived": request.query.get("revived")}

    def _source(self, request: web.Request) -> dict[str, Any]:
        name = request.query.get("name", "")
        config = self._config()
        info = collect(config, self.store)
        row = next((c for c in info["connectors"] if c["name"] == name), None)
        if row is None:
            return {"status": 404, "title": "Not found", "why": "No source of that name is configured."}
        totals = [t for t in info["skip_totals"] if t["connector"] == name]
        return {"template": "source.html", "title": f"Source: {name}", "c": row,
                "counts": queries.source_counts(self.store, name),
                "totals": totals, "advice": _advice(row["last_error"]),
                "recent": queries.activity(self.store, source=name, limit=10).rows,
                "history": queries.health_history(self.store, name), "doing": _doing(name),
                "costs": self.costs.of(name), "poll_interval": getattr(config.connectors[name], "poll_interval", None)}

    def _signin(self, request: web.Request) -> dict[str, Any]:
        name = request.query.get("name", "")
        return {"template": "signin.html", "title": "Sign in", "offered": self.signins.offered(), "name": name,
                "attempt": self.signins.attempt(name), "problem": request.query.get("problem"),
                "callback": _callback_address(request), "form_targets": self.signins.providers()}

    async def _callback(self, request: web.Request) -> web.StreamResponse:
        """Where a provider sends the browser back. Not behind the console's cookie: a
        SameSite=Strict cookie does not come along on a redirect from another site; the
        ``state`` only the console and that browser know picks the sign-in this answer ends."""
        address = _callback_address(request) + (f"?{request.query_string}" if request.query_string else "")
        query = {k: str(v) for k, v in request.query.items()}
        name, attempt, problem = await asyncio.to_thread(self.signins.finish_browser, address, query)
        html = self.env.get_template("signin_callback.html").render(
            nav=NAV, title="Sign in", name=name, attempt=attempt, problem=problem)
        return self._respond(html, 200 if attempt is not None else 400)

    # -- actions ----------------------------------------------------------------------------

    def _retry(self, form: dict[str, str]) -> str:
        """What ``omi-bridge retry`` does: dead rows back to pending, then the dispatcher wakes."""
        ids = None if form.get("all") else [int(form["id"])] if str(form.get("id", "")).isdigit() else []
        revived = self.store.revive(ids) if ids is None or ids else 0
        if revived:
            self._wake()
        return f"/problems?revived={revived}"

    def _start_signin(self, form: dict[str, str]) -> str:
        name = str(form.get("name", ""))
        problem = self.signins.start(name)
        return f"/signin?{_query(name=name, problem=problem or '')}"


    def _start_browser(self, form: dict[str, str], request: web.Request) -> str:
        """To the provider, which sends the browser back to this console's ``CALLBACK``."""
        name = str(form.get("name", ""))
        address, problem = self.signins.start_browser(name, _callback_address(request))
        return address or f"/signin?{_query(name=name, problem=problem or '')}"

    def _count_costs(self, form: dict[str, str]) -> str:
        """``plan`` for one source, in the background; its page shows the count when it is done."""
        name = str(form.get("name", ""))
        if name in self._config().connectors:
            self.costs.start(name)
        return f"/source?{_query(name=name)}"

    def _start_password(self, form: dict[str, str]) -> str:
        name = str(form.get("name", ""))
        problem = self.signins.start_password(name, str(form.pop("password", "")))
        return f"/signin?{_query(name=name, problem=problem or '')}"


def _doing(name: str) -> list[dict[str, Any]]:
    """What the source is doing now (bridge/activity.py), with how far and how long yet."""
    found = []
    for now in activity.doing(name):
        left = now.seconds_left()
        found.append({"what": now.what, "done": now.done, "total": now.total, "percent": now.percent,
                      "left": format_duration(left) if left is not None else None, "since": now.started})
    return found


def _callback_address(request: web.Request) -> str:
    """The address providers send the browser back to, as the browser reaches this console:
    behind a TLS proxy the scheme the proxy says (X-Forwarded-Proto) and the Host it passes on."""
    scheme = request.headers.get("X-Forwarded-Proto") or request.scheme
    return f"{scheme}://{request.host}{CALLBACK}"


def _query(**values: str) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in values.items() if v})


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _day(value: str) -> datetime | None:
    """A date field's "2026-12-01" as that day's local midnight."""
    try:
        return datetime.strptime(value, "%Y-%m-%d").astimezone() if value else None
    except ValueError:
        return None
