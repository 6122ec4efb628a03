"""Drives Ferrymail's CalDAV with the python `caldav` library (run by tests/caldav.rs).

Usage: client.py <dav-url> <user> <password> [reports]

Discovery from the DAV root to the calendar home, calendar creation, an event and a todo
saved and read back, an event changed and deleted. With `reports`: listing events, a
time-range search and sync tokens (these need REPORT). Prints one "ok <step>" line per step
and exits non-zero on the first failure.
"""

import sys
from urllib.parse import unquote
from datetime import datetime, timezone

import caldav

url, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
reports = len(sys.argv) > 4 and sys.argv[4] == "reports"

EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//ferrymail test//EN
BEGIN:VEVENT
UID:py-event-1
DTSTAMP:20260101T000000Z
DTSTART:20260310T090000Z
DTEND:20260310T100000Z
SUMMARY:Planning
END:VEVENT
END:VCALENDAR
"""

LATER = EVENT.replace("py-event-1", "py-event-2").replace("20260310", "20260420").replace(
    "Planning", "Review"
)

TODO = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//ferrymail test//EN
BEGIN:VTODO
UID:py-todo-1
DTSTAMP:20260101T000000Z
SUMMARY:Write the report
END:VTODO
END:VCALENDAR
"""


def ok(step):
    print("ok", step, flush=True)


client = caldav.DAVClient(url=url, username=user, password=password)
principal = client.principal()
ok("principal " + str(principal.url))
home = principal.calendar_home_set
assert unquote(str(home.url)).endswith("/dav/calendars/%s/" % user), home.url
ok("calendar-home-set " + str(home.url))
names = sorted(str(c.url) for c in principal.calendars())
assert any(n.endswith("/calendar/") for n in names), names
assert any(n.endswith("/tasks/") for n in names), names
ok("calendars " + " ".join(names))

cal = principal.make_calendar(name="Python", cal_id="python")
assert cal.get_display_name() == "Python", cal.get_display_name()
ok("make_calendar " + str(cal.url))

event = cal.save_event(EVENT)
ok("save_event " + str(event.url))
again = cal.event_by_url(event.url)
again.load()
assert again.icalendar_component["summary"] == "Planning", again.data
ok("load event")
again.icalendar_component["summary"] = "Planning (moved)"
again.save()
third = cal.event_by_url(event.url)
third.load()
assert third.icalendar_component["summary"] == "Planning (moved)", third.data
ok("edit event")
later = cal.save_event(LATER)
ok("save second event")

todos = principal.calendar(cal_id="tasks")
todo = todos.save_todo(TODO)
t = todos.event_by_url(todo.url)
t.load()
assert "VTODO" in t.data, t.data
ok("save_todo")

if reports:
    events = cal.events()
    assert len(events) == 2, events
    ok("events")
    found = cal.search(
        start=datetime(2026, 3, 1, tzinfo=timezone.utc),
        end=datetime(2026, 3, 31, tzinfo=timezone.utc),
        event=True,
        expand=False,
    )
    assert len(found) == 1 and "Planning" in found[0].data, [f.data for f in found]
    ok("time-range search")
    sync = cal.objects_by_sync_token(load_objects=False)
    token = sync.sync_token
    later.delete()
    changed = cal.objects_by_sync_token(sync_token=token, load_objects=False)
    assert len(list(changed)) == 1, list(changed)
    ok("sync token")
else:
    later.delete()

third.delete()
try:
    cal.event_by_url(event.url).load()
    raise SystemExit("a deleted event is still there")
except caldav.lib.error.NotFoundError:
    ok("delete event")
cal.delete()
ok("delete calendar")
