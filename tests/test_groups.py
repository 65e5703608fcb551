"""The assembler: grouping rules, edits and deletes, duplicates, and restarts."""

from __future__ import annotations

import contextlib
import math
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bridge.connector import Sink
from bridge.groups import Assembler, GroupPolicy, Item
from bridge.models import Conversation
from bridge.store import Store
from connectors.spool import SpoolConfig

POLICY = GroupPolicy(quiet_period=600, max_span=7200, max_chars=1000)
BERLIN = ZoneInfo("Europe/Berlin")
T0 = 1_800_000_000.0


def msg(n: int, at: float, text: str = "", scope: str = "C1", thread: int | None = None) -> Item:
    return Item(key=f"{scope}:{n}", scope=scope, at=at, text=text or f"message {n}", author="U1",
                thread=f"{scope}:{thread}" if thread is not None else None)


def groups_of(assembler: Assembler, now: float = math.inf) -> list[list[str]]:
    return [[i.key for i in g.items] for g in assembler.due(now)]


def test_a_burst_closes_after_the_quiet_period_not_before() -> None:
    asm = Assembler(Store(), "slack", POLICY)
    for n in range(3):
        assert asm.add(msg(n, T0 + n * 60))
    assert asm.due(now=T0 + 120 + 599) == []
    assert groups_of(asm, now=T0 + 120 + 600) == [["C1:0", "C1:1", "C1:2"]]


def test_a_gap_longer_than_the_quiet_period_starts_a_new_group() -> None:
    asm = Assembler(Store(), "slack", POLICY)
    asm.add(msg(1, T0))
    asm.add(msg(2, T0 + 601))
    assert groups_of(asm) == [["C1:1"], ["C1:2"]]


def test_max_span_cuts_a_busy_channel() -> None:
    asm = Assembler(Store(), "slack", POLICY)
    for n in range(30):  # one message every 5 minutes for 2.5 hours: never quiet
        asm.add(msg(n, T0 + n * 300, text="x"))
    groups = groups_of(asm)
    assert len(groups) == 2
    assert sum(len(g) for g in groups) == 30
    assert asm.due(now=T0 + 7200) != []  # the first group is due at its span even while the channel talks


def test_size_limit_starts_a_new_group() -> None:
    asm = Assembler(Store(), "slack", POLICY)
    for n in range(6):
        asm.add(msg(n, T0 + n, text="y" * 400))
    groups = groups_of(asm)
    assert [len(g) for g in groups] == [2, 2, 2]  # 2 x (400 + overhead) fits 1000, 3 do not
    assert asm.due(now=T0 + 10)[0].items[0].key == "C1:0"  # a full group is due at once


def test_channels_are_grouped_apart_and_a_reply_joins_its_thread() -> None:
    asm = Assembler(Store(), "slack", POLICY)
    asm.add(msg(1, T0, scope="C1"))
    asm.add(msg(2, T0 + 10, scope="C2"))
    asm.add(msg(3, T0 + 20, scope="C1", thread=1))
    assert sorted(groups_of(asm)) == [["C1:1", "C1:3"], ["C2:2"]]


def test_a_late_reply_gets_a_thread_group_and_the_channel_goes_on_apart() -> None:
    store = Store()
    asm = Assembler(store, "slack", POLICY)
    sink = Sink(store, "slack", SpoolConfig(type="spool", path="x"), lambda: None)
    asm.add(msg(1, T0, text="root"))
    [group] = asm.due(now=T0 + 600)
    sink.close_group(asm, group, Conversation(source_key="g1", text="root", started_at=T0))
    asm.add(msg(2, T0 + 3000, thread=1))
    asm.add(msg(3, T0 + 3010))  # a new channel message: not part of the thread
    [thread_group, burst] = asm.due(now=math.inf)
    assert thread_group.thread == "C1:1" and [i.key for i in thread_group.items] == ["C1:2"]
    assert burst.thread is None and [i.key for i in burst.items] == ["C1:3"]
    assert asm.item("C1:1").text == "root"  # the root is still there, for context


def test_late_replies_to_a_sent_thread_are_one_follow_up_a_day() -> None:
    store = Store()
    asm = Assembler(store, "slack", GroupPolicy(600, 7200, tz=BERLIN))
    sink = Sink(store, "slack", SpoolConfig(type="spool", path="x"), lambda: None)
    root_at = datetime(2027, 1, 11, 9, 0, tzinfo=BERLIN).timestamp()
    asm.add(msg(1, root_at, text="root"))
    [group] = asm.due(now=root_at + 600)
    sink.close_group(asm, group, Conversation(source_key="g1", text="root", started_at=root_at))
    for n, hours in enumerate([2, 5, 11, 26], start=2):  # three late replies that day, one the next
        asm.add(msg(n, root_at + hours * 3600, thread=1))
    midnight = datetime(2027, 1, 12, tzinfo=BERLIN).timestamp()
    assert asm.due(now=midnight - 1) == []  # quiet for hours, but the day is not over
    assert asm.next_deadline() == midnight
    [today] = asm.due(now=midnight)
    assert today.thread == "C1:1" and [i.key for i in today.items] == ["C1:2", "C1:3", "C1:4"]
    assert groups_of(asm) == [["C1:2", "C1:3", "C1:4"], ["C1:5"]]


def test_by_day_a_channels_day_is_one_group_with_its_replies_wherever_their_thread_began() -> None:
    asm = Assembler(Store(), "slack", GroupPolicy(600, 7200, by_day=True, tz=BERLIN))
    day = datetime(2027, 3, 27, tzinfo=BERLIN)  # the night before summer time begins
    at = lambda hours: (day + timedelta(hours=hours)).timestamp()  # noqa: E731
    asm.add(msg(1, at(9)))
    asm.add(msg(2, at(9.1), thread=1))
    asm.add(msg(3, at(15)))  # hours later: a burst would end, the day does not
    asm.add(msg(4, at(23.5), thread=1))  # 23:30 in Berlin, 22:30 UTC
    asm.add(msg(5, at(24.5), thread=1))  # 00:30 the next day: that day's group
    asm.add(msg(6, at(25), scope="C2"))
    assert asm.due(now=at(24) - 1) == []
    assert groups_of(asm, now=at(24)) == [["C1:1", "C1:2", "C1:3", "C1:4"]]
    assert sorted(groups_of(asm)) == [["C1:1", "C1:2", "C1:3", "C1:4"], ["C1:5"], ["C2:6"]]
    next_day = next(g for g in asm.due(now=math.inf) if g.items[0].key == "C1:5")
    assert next_day.thread is None  # a channel's day, not a thread's


def test_by_day_a_day_past_the_size_limit_goes_on_in_a_second_group() -> None:
    asm = Assembler(Store(), "slack", GroupPolicy(600, 7200, max_chars=1000, by_day=True, tz=UTC))
    for n in range(5):
        asm.add(msg(n, T0 + n * 3600, text="z" * 400))
    assert [len(g) for g in groups_of(asm)] == [2, 2, 1]


def test_same_event_twice_changes_nothing() -> None:
    asm = Assembler(Store(), "slack", POLICY)
    assert asm.add(msg(1, T0), event_key="Ev1")
    assert not asm.add(msg(1, T0), event_key="Ev1")
    assert not asm.add(msg(1, T0), event_key="Ev1-other-envelope")  # same message, new event id
    assert groups_of(asm) == [["C1:1"]]


def test_edit_and_delete_before_sending_after_sending_and_before_arrival() -> None:
    store = Store()
    asm = Assembler(store, "slack", POLICY)
    sink = Sink(store, "slack", SpoolConfig(type="spool", path="x"), lambda: None)
    asm.add(msg(1, T0, text="helo"))
    asm.add(msg(2, T0 + 1, text="oops"))
    assert asm.edit("C1:1", "hello", event_key="E1")
    assert not asm.edit("C1:1", "HELLO", event_key="E1")  # the same edit event again
    assert asm.remove("C1:2", "C1", event_key="E2")
    [group] = asm.due(now=math.inf)
    assert [(i.key, i.text) for i in group.items] == [("C1:1", "hello")]
    sink.close_group(asm, group, Conversation(source_key="g", text="hello", started_at=T0))
    assert not asm.edit("C1:1", "too late")  # sent already: nothing changes
    assert not asm.remove("C1:1", "C1")
    assert asm.remove("C1:9", "C1")  # deleted before it arrived...
    assert not asm.add(msg(9, T0 + 5))  # ...so its late arrival adds nothing
    assert not asm.add(msg(1, T0))  # and a sent message seen again (history) is not sent twice
    assert asm.due(now=math.inf) == []


def test_history_in_any_order_groups_like_live_delivery() -> None:
    times = [T0 + s for s in (0, 100, 250, 2000, 2100, 5000, 5050, 5100)]
    live = Assembler(Store(), "slack", POLICY)
    for n, at in enumerate(times):
        live.add(msg(n, at))
    expected = groups_of(live)
    for seed in range(5):
        shuffled = list(enumerate(times))
        random.Random(seed).shuffle(shuffled)
        late = Assembler(Store(), "slack", POLICY)
        for n, at in sorted(shuffled, key=lambda p: p[1]):  # the connector sorts a gap's messages by ts
            late.add(msg(n, at))
        assert groups_of(late) == expected
    assert expected == [["C1:0", "C1:1", "C1:2"], ["C1:3", "C1:4"], ["C1:5", "C1:6", "C1:7"]]


def test_open_groups_and_seen_events_survive_a_restart(tmp_path) -> None:
    path = tmp_path / "state.db"
    store = Store(path)
    asm = Assembler(store, "slack", POLICY)
    asm.add(msg(1, T0), event_key="Ev1")
    store.close()
    asm = Assembler(Store(path), "slack", POLICY)
    assert not asm.add(msg(1, T0), event_key="Ev1")
    asm.add(msg(2, T0 + 30), event_key="Ev2")
    assert groups_of(asm) == [["C1:1", "C1:2"]]


def test_closing_a_group_and_queueing_its_conversation_is_one_step(monkeypatch) -> None:
    store = Store()
    asm = Assembler(store, "slack", POLICY)
    sink = Sink(store, "slack", SpoolConfig(type="spool", path="x"), lambda: None)
    asm.add(msg(1, T0))
    [group] = asm.due(now=math.inf)
    conversation = Conversation(source_key="g", text="hi", started_at=T0)
    close = asm.closer

    def close_then_crash(*groups):
        def write(conn):
            close(*groups)(conn)
            raise RuntimeError("power cut")
        return write

    monkeypatch.setattr(asm, "closer", close_then_crash)
    with contextlib.suppress(RuntimeError):
        sink.close_group(asm, group, conversation)
    assert store.counts()["pending"] == 0  # neither the row...
    assert len(asm.due(now=math.inf)) == 1  # ...nor the closing happened
    monkeypatch.setattr(asm, "closer", close)
    assert sink.close_group(asm, group, conversation) == 1
    assert asm.due(now=math.inf) == []
    assert store.counts()["pending"] == 1
    assert asm.counts() == {"closed": 1}


def test_a_group_that_changes_while_its_text_is_made_is_not_closed_as_it_was() -> None:
    store = Store()
    asm = Assembler(store, "slack", POLICY)
    sink = Sink(store, "slack", SpoolConfig(type="spool", path="x"), lambda: None)
    asm.add(msg(1, T0, "deploy at 5"))
    asm.add(msg(2, T0 + 10, "oops, wrong channel"))
    [group] = asm.due(now=T0 + 700)
    conversation = Conversation(source_key="g", text="deploy at 5\noops, wrong channel", started_at=T0)
    asm.remove("C1:2", "C1")  # deleted while the conversation was being made (a names lookup, say)
    assert sink.close_group(asm, group, conversation) == 0  # nothing queued: it would carry the deleted line
    assert store.counts()["pending"] == 0
    [again] = asm.due(now=T0 + 700)
    assert [i.key for i in again.items] == ["C1:1"]
    assert sink.close_group(asm, again, Conversation(source_key="g", text="deploy at 5", started_at=T0)) == 1


def test_prune_forgets_old_events_and_closed_groups_only() -> None:
    store = Store()
    asm = Assembler(store, "slack", POLICY)
    sink = Sink(store, "slack", SpoolConfig(type="spool", path="x"), lambda: None)
    asm.add(msg(1, T0), event_key="old")
    [group] = asm.due(now=math.inf)
    sink.close_group(asm, group, None)
    asm.add(msg(2, T0 + 10_000))
    store.conn.execute("UPDATE events SET received_at = 0")
    store.conn.execute("UPDATE groups SET closed_at = 0 WHERE state = 'closed'")
    asm.prune()
    assert asm.counts() == {"open": 1}
    assert asm.add(msg(3, T0), event_key="old")  # the event id was forgotten
