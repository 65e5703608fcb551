"""The Sources page: add a source (pick a kind, fill its form, test it, save), change one with
the same form, pause, resume and remove one. The config file stays the one place the
configuration lives: every change is a tomlkit edit of it (bridge/tomledit.py) followed by the
daemon's reload (bridge/sources.py), which restarts only the source that changed.

Every form carries the hash of the file as it was read for the page; a save finds the file
changed since (a person in an editor) and refuses, re-reading it. A file this user may not write
(root's, under /etc) gets the table to paste instead.

A change rewrites only the keys its form holds, in that source's table: the keys the form does
not show (``poll_interval``, ``paused``, ...) stay as they are, with their comments, and so does
every other byte of the file. A kept secret stays in its file unless a new one is typed.
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bridge import tomledit
from bridge.console.kinds import KINDS, Kind, form_of, form_values, kind_of, secret_keys, table_of
from bridge.console.sources import Pricing, try_source, validate

if TYPE_CHECKING:
    from aiohttp import web

    from bridge.config import Config
    from bridge.store import Store

__all__ = ["SourceEditor"]

RELOAD_WAIT = 20.0  # seconds a save waits for the daemon to take the new file
HELD_FOR = 1800.0  # seconds a secret typed for a test is kept for the save (in memory only)


class SourceEditor:
    def __init__(self, config: Callable[[], Config], store: Store, reload: Callable[[], None] | None = None,
                 signin: Callable[[str], str | None] | None = None) -> None:
        self._config = config
        self._signin = signin  # starts a device-code sign-in (bridge/console/signin.py): a problem, or None
        self.store = store
        # the daemon's reload, or (a daemon that does not pass it) its SIGHUP, which does the same
        self._reload = reload or _sighup
        self._held: dict[str, tuple[float, dict[str, str]]] = {}  # a test's typed secrets, for its save
        self._pricings: dict[str, Pricing] = {}  # a test's choices being priced, by the id its page polls

    # -- pages ------------------------------------------------------------------------------

    def listing(self, request: web.Request) -> dict[str, Any]:
        config = self._config()
        read = tomledit.read(config.source)
        rows = [{"name": n, "type": c.type, "paused": c.paused,
                 "form": kind_of({"type": c.type, "provider": getattr(c, "provider", None)}) is not None}
                for n, c in config.connectors.items()]
        return {"template": "sources.html", "title": "Sources", "rows": rows, "kinds": list(KINDS.values()),
                "kept": self.store.kept_sources(besides=config.connectors),
                "digest": read.digest, "said": request.query.get("said"), "config_path": str(config.source)}

    def add_form(self, request: web.Request) -> dict[str, Any]:
        kind = KINDS.get(request.query.get("kind", ""))
        if kind is None:
            return {"status": 404, "title": "Not found", "why": "No kind of source has that name."}
        return self._form(kind, {}, digest=tomledit.read(self._config().source).digest)

    def change_form(self, request: web.Request) -> dict[str, Any]:
        """The add form, filled from the source's table as the file has it now."""
        name = request.query.get("name", "")
        found = self._current(name)
        if found is None:
            return {"status": 404, "title": "Not found", "why": "No source of that name is in the config file, or "
                    "the console has no form for its kind: change it in the file, then systemctl reload omi-bridge."}
        read, kind, table = found
        form, kept = form_of(kind, table)
        return self._form(kind, {**form, "name": name}, digest=read.digest, kept=sorted(kept), changing=name)

    def _form(self, kind: Kind, form: dict[str, str], **more: Any) -> dict[str, Any]:
        shown = {k: v for k, v in form.items() if k not in secret_keys(kind)}
        title = f"Change {more['changing']}" if more.get("changing") else f"Add a source: {kind.label}"
        return {"template": "source_form.html", "title": title, "kind": kind, "form": shown, "problems": {},
                "general": [], "kept": [], **more}

    def _current(self, name: str) -> tuple[tomledit.ConfigText, Kind, dict[str, Any]] | None:
        """The file as read now, and the kind and table of source ``name`` in it."""
        if name not in self._config().connectors:
            return None
        read = tomledit.read(self._config().source)
        table = tomledit.table(read.text, name)
        kind = kind_of(table) if table is not None else None
        return (read, kind, table) if kind is not None and table is not None else None

    def choices_page(self, request: web.Request) -> dict[str, Any]:
        """A test's choices and their costs so far: the test's page swaps its table for this
        one's while values are being priced (and a person without scripts opens it)."""
        pricing = self._pricings.get(request.query.get("id", ""))
        if pricing is None:
            return {"status": 404, "title": "Not found", "why": "These prices are gone (the daemon restarted, or "
                    "the test is older than half an hour): test the form again."}
        return {"template": "choices.html", "title": f"The choices for {pricing.name}", "pricing": pricing,
                "pricing_id": request.query["id"]}

    def _try(self, config: Config, name: str, validated: Any, table: dict[str, Any]) -> dict[str, Any]:
        """The test: check and plan now, the other choices priced in a thread after the page."""
        tried = try_source(config, self.store, name, validated)
        if not tried["good"]:
            return tried
        self._stop_pricing(name)
        pricing = Pricing(config, self.store, name, table, tried["plan"])
        key = secrets.token_urlsafe(12)
        self._pricings[key] = pricing
        threading.Thread(target=pricing.run, name=f"pricing {name}", daemon=True).start()
        return {**tried, "pricing": pricing, "pricing_id": key}

    def _stop_pricing(self, name: str) -> None:
        """Stop pricing ``name``'s older tests (a new test or a save: their reads are wasted),
        and forget pricings older than a test's held secrets."""
        now = time.monotonic()
        for key, pricing in list(self._pricings.items()):
            if pricing.name == name:
                pricing.stopped.set()
            if now - pricing.started > HELD_FOR:
                del self._pricings[key]

    # -- actions ----------------------------------------------------------------------------

    def add(self, form: dict[str, str]) -> str | dict[str, Any]:
        """Test (check and plan) or save the form's source; nothing written while it is invalid."""
        kind = KINDS.get(str(form.get("kind", "")))
        if kind is None:
            return "/sources"
        form = {k: str(v) for k, v in form.items()}
        name = form.get("name", "").strip()
        values, typed = self._typed(kind, form)
        config = self._config()
        table = table_of(kind, values)
        by_key, general, validated = validate(config, name, table)
        context = {"digest": form.get("digest", ""), "held": self._hold(typed) if typed else ""}
        if validated is None:
            return self._form(kind, form, problems=by_key, general=general, **context)
        if form.get("do") != "save":
            return self._form(kind, form, tried=self._try(config, name, validated, table), **context)
        self._stop_pricing(name)
        return self._save(kind, form, name, values, typed, context)

    def change(self, form: dict[str, str]) -> str | dict[str, Any]:
        """Test or save a changed source: only the keys of its form are rewritten in its table."""
        form = {k: str(v) for k, v in form.items()}
        name = form.get("name", "")
        found = self._current(name)
        if found is None:
            return "/sources?said=" + _quoted(f"No source is called {name}.")
        read, kind, table = found
        values, typed = self._typed(kind, form)
        changes = _changes(kind, values, typed)
        config = self._config()
        changed = {k: v for k, v in {**table, **changes}.items() if v is not None}
        by_key, general, validated = validate(config, name, changed, new=False)
        context = {"digest": form.get("digest", ""), "held": self._hold(typed) if typed else "", "changing": name,
                   "kept": sorted(form_of(kind, table)[1] - set(typed))}
        if validated is None:
            return self._form(kind, form, problems=by_key, general=general, **context)
        if form.get("do") != "save":
            return self._form(kind, form, tried=self._try(config, name, validated, changed), **context)
        self._stop_pricing(name)
        changes = _unasked(changes, table, validated)

        def changed_table() -> tuple[str, dict[str, Any]]:
            for key, value in typed.items():
                changes.update({key: None, f"{key}_file": str(tomledit.save_secret(config.state_path, name, key,
                                                                                     value))})
            whole = {k: v for k, v in {**table, **changes}.items() if v is not None}
            return tomledit.with_options(read.text, name, changes), whole

        refused = self._write(kind, form, context, read, changed_table, f"Change {name} by hand")
        if refused is not None:
            return refused
        said = self._reloaded(lambda c: c.connectors.get(name) == validated,
                              f"{name} changed: the daemon reads it with the new settings; nothing it sent is sent "
                              "again or taken out of Omi")
        return "/sources?said=" + _quoted(said)

    def _typed(self, kind: Kind, form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
        """The form's values, and the secrets typed into it (now, or for the test before)."""
        values = form_values(kind, form)
        held = self._take_held(form.get("held", ""))
        for key in secret_keys(kind):  # a secret typed for the test, unless typed again
            if key not in values and key in held:
                values[key] = held[key]
        return values, {key: values[key] for key in secret_keys(kind) if key in values}

    def _save(self, kind: Kind, form: dict[str, str], name: str, values: dict[str, Any], typed: dict[str, str],
              context: dict[str, Any]) -> str | dict[str, Any]:
        config = self._config()
        read = tomledit.read(config.source)

        def new_table() -> tuple[str, dict[str, Any]]:
            files = {key: str(tomledit.save_secret(config.state_path, name, key, value))
                     for key, value in typed.items()}
            table = table_of(kind, values, files)
            return tomledit.with_table(read.text, name, table), table

        refused = self._write(kind, form, context, read, new_table, f"Add {name} by hand")
        if refused is not None:
            return refused
        said = self._reloaded(lambda c: name in c.connectors, f"{name} added: the daemon reads it now")
        if kind.signs_in and name in self._config().connectors:
            # signed in right away, in the page: the code to enter at Microsoft is the next thing
            # shown; a browser sign-in (Google) and a password (Matrix) are the Sign in page's
            problem = self._signin(name) if self._signin and kind.signs_in == "here" else None
            return f"/signin?name={_quoted(name)}" + (f"&problem={_quoted(problem)}" if problem else "")
        return "/sources?said=" + _quoted(said)

    def _write(self, kind: Kind, form: dict[str, str], context: dict[str, Any], read: tomledit.ConfigText,
               make: Callable[[], tuple[str, dict[str, Any]]], by_hand: str) -> dict[str, Any] | None:
        """Write what ``make`` gives (the new file, the source's whole table) if the file is as the
        form read it; else the page that says why: the form again, or the table to paste."""
        name, path = form.get("name", "").strip(), read.path
        if read.digest != context["digest"]:
            return self._form(kind, form, **{**context, "digest": read.digest},
                              changed=f"{path} was changed by someone else since this form was opened. Nothing "
                                      "was written; the file is read again: save again.")
        text, table = make()  # secrets go to their files only now: the file is as the form read it
        try:
            tomledit.write(read, text)
        except tomledit.ChangedBehind as exc:
            return self._form(kind, form, **{**context, "digest": tomledit.read(path).digest},
                              changed=f"{exc}. Nothing was written; the file is read again: save again.")
        except tomledit.Unwritable as exc:
            return {"template": "paste.html", "title": by_hand, "why": str(exc), "name": name,
                    "table": tomledit.render_table(name, table), "config_path": str(path)}
        return None

    def pause(self, form: dict[str, str]) -> str | dict[str, Any]:
        name, wanted = str(form.get("name", "")), bool(form.get("paused"))
        word = "paused" if wanted else "resumed"
        return self._edit(form, name, lambda text: tomledit.with_option(text, name, "paused", True if wanted else None),
                          lambda c: name in c.connectors and c.connectors[name].paused == wanted,
                          f"{name} {word}", f"paused = {'true' if wanted else 'false'}")

    def remove(self, form: dict[str, str]) -> str | dict[str, Any]:
        name = str(form.get("name", ""))
        return self._edit(form, name, lambda text: tomledit.without_table(text, name),
                          lambda c: name not in c.connectors,
                          f"{name} removed: nothing is read from it; what it sent stays in Omi and its state is kept",
                          f"(delete the [connectors.{name}] table)")

    def forget(self, form: dict[str, str]) -> str:
        """Take a removed source's state out of the store, once the person said they understand
        that what it sent would be sent again if it came back."""
        name = str(form.get("name", ""))
        if name in self._config().connectors:
            return "/sources?said=" + _quoted(f"{name} is still in the config file: remove it first.")
        if form.get("understood") != "yes":
            return "/sources?said=" + _quoted(f"Nothing was forgotten: tick the box that says what forgetting {name} "
                                              "means.")
        try:
            removed = self.store.forget(name)
        except ValueError as exc:
            return "/sources?said=" + _quoted(f"Nothing was forgotten: {exc}.")
        return "/sources?said=" + _quoted(f"{name} forgotten ({removed:,} records): what it sent stays in Omi, and "
                                          "the same mail or messages would be sent again if it came back.")

    def _edit(self, form: dict[str, Any], name: str, change: Callable[[str], str], done: Callable[[Config], bool],
              said: str, by_hand: str) -> str | dict[str, Any]:
        config = self._config()
        if name not in config.connectors:
            return "/sources?said=" + _quoted(f"No source is called {name}.")
        read = tomledit.read(config.source)
        if read.digest != str(form.get("digest", "")):
            return "/sources?said=" + _quoted(f"{config.source} was changed by someone else since this page was "
                                              "opened. Nothing was written; here it is as it is now: try again.")
        try:
            tomledit.write(read, change(read.text))
        except tomledit.ChangedBehind as exc:
            return "/sources?said=" + _quoted(f"{exc}. Nothing was written: try again.")
        except tomledit.Unwritable as exc:
            return {"template": "paste.html", "title": f"Change {name} by hand", "why": str(exc), "name": name,
                    "table": f"[connectors.{name}]\n{by_hand}\n", "config_path": str(config.source)}
        return "/sources?said=" + _quoted(self._reloaded(done, said))

    def _reloaded(self, done: Callable[[Config], bool], said: str) -> str:
        """Have the daemon read the file again; what to tell the person."""
        self._reload()
        deadline = time.monotonic() + RELOAD_WAIT
        while time.monotonic() < deadline:
            if done(self._config()):
                return said + "."
            time.sleep(0.1)
        return (f"The file was written, but the daemon did not take it within {RELOAD_WAIT:.0f} s: its log says "
                "why (an invalid file leaves it running as it was).")

    def _hold(self, typed: dict[str, str]) -> str:
        now = time.monotonic()
        self._held = {k: v for k, v in self._held.items() if v[0] > now}
        nonce = secrets.token_urlsafe(16)
        self._held[nonce] = (now + HELD_FOR, typed)
        return nonce

    def _take_held(self, nonce: str) -> dict[str, str]:
        found = self._held.get(nonce)
        return found[1] if found and found[0] > time.monotonic() else {}


def _changes(kind: Kind, values: dict[str, Any], typed: dict[str, str]) -> dict[str, Any]:
    """The keys a change form sets (None: taken out, the default applies). A secret not typed
    again is left as the table has it, in its file."""
    changes = {o.key: values.get(o.key) for o in kind.options if o.kind != "password" or o.key in typed}
    return {**changes, **{f"{key}_file": None for key in typed}}  # the typed one, not the old file


def _unasked(changes: dict[str, Any], table: dict[str, Any], validated: Any) -> dict[str, Any]:
    """The changes less a key the table did not have, set to what it means anyway (a select's
    default the person left alone): the table keeps reading as they wrote it."""
    fields = type(validated).model_fields
    return {k: v for k, v in changes.items() if k in table or (v is not None and not (
        k in fields and v == fields[k].default))}


def _sighup() -> None:
    """Ask this process to read its config again, as ``systemctl reload`` does; only where SIGHUP
    is handled (the daemon's loop handles it), since by default it would end the process."""
    if signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN, None):
        os.kill(os.getpid(), signal.SIGHUP)


def _quoted(text: str) -> str:
    from urllib.parse import quote

    return quote(text)
