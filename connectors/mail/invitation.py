"""A calendar invitation (text/calendar, an .ics attachment) as lines a person reads.

Invitations often come with empty text parts, or with text that says only "You have been
invited": the event itself lives in the iCalendar part (RFC 5545, methods of RFC 5546). It is
parsed by the `icalendar` library and rendered as what, when (in the reader's time zone), where,
who organises and who is asked, and what the mail does: invite, update, cancel, or answer.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

__all__ = ["render_calendar"]

_MAX_ATTENDEES = 20
_ANSWERS = {"ACCEPTED": "accepted", "DECLINED": "declined", "TENTATIVE": "tentatively accepted",
            "DELEGATED": "delegated"}


def render_calendar(data: bytes, tz: tzinfo | None = None, seen: set[tuple[str, str]] | None = None) -> str:
    """The events of one iCalendar file as text ("" when there are none, or it does not parse).
    ``tz``: the reader's zone (None: the machine's). ``seen`` holds events already rendered from
    another part of the same mail (Gmail sends the invitation inline and as invite.ics)."""
    import icalendar  # only mail with an invitation pays for the import

    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception:
        return ""
    seen = set() if seen is None else seen
    method = str(calendar.get("METHOD", "") or "").upper()
    out = []
    for event in calendar.walk("VEVENT"):
        key = (str(event.get("UID", "")), str(event.get("RECURRENCE-ID", "") or event.get("SEQUENCE", "")))
        if key[0] and key in seen:
            continue
        seen.add(key)
        try:
            out.append(_event(event, method, tz))
        except Exception:  # one odd event must not lose the others, nor the mail
            continue
    return "\n\n".join(part for part in out if part)


def _event(event: Any, method: str, tz: tzinfo | None) -> str:
    summary = " ".join(str(event.get("SUMMARY", "") or "").split()) or "(no title)"
    status = str(event.get("STATUS", "") or "").upper()
    sequence = int(event.get("SEQUENCE", 0) or 0)
    if method == "CANCEL" or status == "CANCELLED":
        kind = "Cancelled event"
    elif method == "REPLY":
        kind = "Answer to the invitation"
    elif method == "COUNTER":
        kind = "New time proposed"
    elif method == "REQUEST":
        kind = "Updated invitation" if sequence > 0 else "Invitation"
    else:
        kind = "Event"
    lines = [f"{kind}: {summary}"]
    if when := _when(event, tz):
        lines.append(f"When: {when}")
    if rule := event.get("RRULE"):
        lines.append(f"Repeats: {rule.to_ical().decode()}")
    if location := " ".join(str(event.get("LOCATION", "") or "").split()):
        lines.append(f"Where: {location}")
    if organizer := event.get("ORGANIZER"):
        lines.append(f"Organizer: {_person(organizer)}")
    attendees = event.get("ATTENDEE") or []
    attendees = attendees if isinstance(attendees, list) else [attendees]
    if method == "REPLY":
        answers = [f"{_person(a)} {_ANSWERS.get(str(a.params.get('PARTSTAT', '')).upper(), 'answered')}"
                   for a in attendees]
        lines += [f"Answer: {answer}" for answer in answers]
    elif attendees:
        names = [_person(a) for a in attendees[:_MAX_ATTENDEES]]
        more = f" and {len(attendees) - _MAX_ATTENDEES} more" if len(attendees) > _MAX_ATTENDEES else ""
        lines.append(f"Attendees: {', '.join(names)}{more}")
    return "\n".join(lines)


def _person(address: Any) -> str:
    """"Name <address>" of an ORGANIZER or ATTENDEE (a mailto: URI with a CN parameter)."""
    mail = str(address)
    mail = mail[7:] if mail.lower().startswith("mailto:") else mail
    name = " ".join(str(getattr(address, "params", {}).get("CN", "") or "").strip('"').split())
    return f"{name} <{mail}>" if name and mail and name != mail else (name or mail)


def _when(event: Any, tz: tzinfo | None) -> str:
    start = event.decoded("DTSTART") if event.get("DTSTART") else None
    if start is None:
        return ""
    end = event.decoded("DTEND") if event.get("DTEND") else None
    if end is None and event.get("DURATION"):
        end = start + event.decoded("DURATION")
    if not isinstance(start, datetime):  # a date: an all-day event; DTEND is the day after it ends
        last = (end.toordinal() - 1) if isinstance(end, date) and not isinstance(end, datetime) else start.toordinal()
        last_day = date.fromordinal(max(last, start.toordinal()))
        shown = _day(start)
        return f"{shown} (all day)" if last_day == start else f"{shown} to {_day(last_day)} (all day)"
    start = _local(start, tz)
    text = f"{_day(start)} {start:%H:%M}"
    if isinstance(end, datetime):
        end = _local(end, tz)
        text += f"-{end:%H:%M}" if end.date() == start.date() else f" to {_day(end)} {end:%H:%M}"
    zone = start.tzname() if start.tzinfo is not None else ""
    return f"{text} ({zone})" if zone else text


def _local(moment: datetime, tz: tzinfo | None) -> datetime:
    """In the reader's zone; a floating time (no zone) is shown as written."""
    return moment.astimezone(tz) if moment.tzinfo is not None else moment


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"
