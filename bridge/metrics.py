"""Prometheus metrics (``/metrics`` on the daemon's listener), with prometheus-client.

Two kinds:
- what the process saw since it started, counted as it happens: sends by result, retries,
  429 pauses, the latency of Omi's create call;
- what the store holds, read at scrape time so it can never drift from it: outbox rows by
  state, rows waiting by priority, the write limit in force and the backlog's estimated time to
  deliver at it, each connector's last success and failure state, skipped items by reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bridge.config import OmiConfig
from bridge.health import omi_state
from bridge.status import backlog, skip_totals
from bridge.store import Store

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SEND_RESULTS = ("sent", "adopted", "retry", "rate_limited", "auth_refused", "dead", "unreachable", "no_answer")
# Omi's create call runs LLM work inside the request: seconds to minutes
LATENCY_BUCKETS = (0.5, 1, 2.5, 5, 10, 20, 30, 60, 90, 120, 180)


class Metrics:
    def __init__(self, store: Store, omi: OmiConfig | None = None) -> None:
        self.registry = CollectorRegistry()
        self.sends = Counter("omi_bridge_sends", "Send attempts to Omi by result", ["result"], registry=self.registry)
        for result in SEND_RESULTS:
            self.sends.labels(result)
        self.retries = Counter("omi_bridge_retries", "Rows put back for another attempt", registry=self.registry)
        self.pauses = Counter("omi_bridge_rate_limit_pauses", "429 answers that paused every request",
                              registry=self.registry)
        self.latency = Histogram("omi_bridge_omi_request_seconds", "Duration of Omi create-conversation calls",
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.registry.register(_StoreCollector(store, omi))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _backlog(info: dict[str, Any]) -> Iterator[Any]:
    waiting = GaugeMetricFamily("omi_bridge_waiting_rows", "Rows not yet delivered, by priority",
                                labels=["priority"])
    waiting.add_metric(["live"], info["live"])
    waiting.add_metric(["backfill"], info["backfill"])
    yield waiting
    limit = info["limit"]
    count = GaugeMetricFamily("omi_bridge_write_limit", "Writes per window the bridge keeps to, by where that"
                              " came from (configured, learned from Omi, default)", labels=["source"])
    count.add_metric([limit["source"]], limit["count"])
    yield count
    yield GaugeMetricFamily("omi_bridge_write_limit_window_seconds", "The write limit's window",
                            value=limit["window_seconds"])
    yield GaugeMetricFamily("omi_bridge_backlog_eta_seconds", "Estimated time to deliver what waits, at the limit",
                            value=info["eta_seconds"])
    yield GaugeMetricFamily("omi_bridge_rows_to_check", "Rows whose last attempt may have created a conversation,"
                            " to be looked up in Omi before any re-send", value=info["to_check"])


class _StoreCollector(Collector):
    def __init__(self, store: Store, omi: OmiConfig | None) -> None:
        self._store = store
        self._omi = omi

    def collect(self) -> Iterator[Any]:
        rows = GaugeMetricFamily("omi_bridge_outbox_rows", "Outbox rows by state", labels=["state"])
        for state, count in self._store.counts().items():
            rows.add_metric([state], count)
        yield rows
        if self._omi is not None:
            yield from _backlog(backlog(self._omi, self._store, time.time()))
        yield GaugeMetricFamily("omi_bridge_state_failing", "1 while the state file refuses writes (no space,"
                                " I/O error): nothing is claimed or sent", value=1 if self._store.health.failing else 0)
        yield GaugeMetricFamily("omi_bridge_omi_failing", "1 while sending to Omi fails (unreachable, no answer,"
                                " 5xx, key refused)", value=1 if omi_state(self._store)["state"] == "failing" else 0)

        health = self._store.rows("SELECT connector, last_success, failing_since FROM sources")
        last = GaugeMetricFamily("omi_bridge_connector_last_success_timestamp_seconds",
                                 "When the connector last read its source successfully", labels=["connector"])
        failing = GaugeMetricFamily("omi_bridge_connector_failing", "1 while the connector's source is failing",
                                    labels=["connector"])
        for row in health:
            if row["last_success"] is not None:
                last.add_metric([row["connector"]], row["last_success"])
            failing.add_metric([row["connector"]], 1 if row["failing_since"] else 0)
        yield last
        yield failing

        skipped = GaugeMetricFamily("omi_bridge_skipped_items", "Items recorded as skipped, by reason",
                                    labels=["connector", "reason"])
        # by kind of reason, as status and the console count them (reason_kind keeps the label set small)
        for row in skip_totals(self._store, time.time()):
            skipped.add_metric([row["connector"], row["reason"]], row["total"])
        yield skipped
