"""A sharee's view through the python `caldav` library (run by tests/caldav.rs).

Usage: sharee.py <dav-url> <user> <password> <owner>

Discovery as the sharee (principal, its one home set, the calendars listed there: the
owner's shared calendar among them), its events read, and principal search. Prints one "ok <step>" line per
step and exits non-zero on the first failure.
"""

import sys
from urllib.parse import unquote

import caldav

url, user, password, owner = sys.argv[1:5]

client = caldav.DAVClient(url=url, username=user, password=password)
principal = client.principal()
print("ok principal", principal.url)
home = principal.calendar_home_set
print("ok calendar-home-set", unquote(str(home.url)))
own = principal.calendars()
print("ok own calendars", sorted(unquote(str(c.url)) for c in own))
shared_path = "/dav/calendars/" + owner + "/calendar/"
found = [c for c in own if unquote(str(c.url)).endswith(shared_path)]
assert len(found) == 1, "the shared calendar is not among the sharee's calendars"
shared = found[0]
events = shared.events()
summaries = sorted(e.icalendar_component["summary"] for e in events)
print("ok shared events", summaries)
assert summaries == ["Shared planning"], summaries
found = client.search_principals(name=user.split("@")[0])
assert any(unquote(str(p.url)).endswith("/principals/" + user + "/") for p in found), found
print("ok principal search")
