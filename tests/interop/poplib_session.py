"""Python poplib against Ferrymail: over pop3 with STLS, then over pop3s.
Usage: poplib_session.py POP3_PORT POP3S_PORT USER PASSWORD FIRST_MESSAGE_FILE

The INBOX holds three messages; FIRST_MESSAGE_FILE has the first one as stored. Over STLS
the script reads everything and deletes message 1; over pop3s it checks that only two are
left, reads one, deletes it, undoes that with RSET and deletes message 2 for good."""
import poplib
import ssl
import sys

pop3_port, pop3s_port, user, password, first_file = sys.argv[1:6]
first = open(first_file, "rb").read()

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

m = poplib.POP3("127.0.0.1", int(pop3_port), timeout=20)
assert m.getwelcome().startswith(b"+OK"), m.getwelcome()
caps = m.capa()
for c in ("STLS", "UIDL", "TOP", "PIPELINING", "RESP-CODES", "USER", "SASL"):
    assert c in caps, caps
m.stls(context=ctx)
caps = m.capa()
assert "STLS" not in caps, caps
m.user(user)
resp = m.pass_(password)
assert resp.startswith(b"+OK"), resp
count, size = m.stat()
assert count == 3, (count, size)
resp, listing, _ = m.list()
sizes = [int(l.split()[1]) for l in listing]
assert sum(sizes) == size, (sizes, size)
resp, uidls, _ = m.uidl()
assert len(set(u.split()[1] for u in uidls)) == 3, uidls
resp, lines, octets = m.retr(1)
assert b"\r\n".join(lines) + b"\r\n" == first, lines
assert sizes[0] == len(first), (sizes[0], len(first))
resp, lines, _ = m.top(2, 1)
assert b"" in lines and lines[-1] == b"Hello Bob.", lines
m.dele(1)
try:
    m.retr(1)
    raise AssertionError("RETR of a deleted message")
except poplib.error_proto as e:
    assert b"already deleted" in e.args[0], e
m.quit()

s = poplib.POP3_SSL("127.0.0.1", int(pop3s_port), context=ctx, timeout=20)
s.user(user)
s.pass_(password)
count, size = s.stat()
assert count == 2, count
one = s.uidl(1).split()
assert one[0] == b"+OK" and one[1] == b"1", one
s.dele(1)
s.rset()
assert s.stat()[0] == 2
s.dele(1)
resp, lines, _ = s.retr(2)
assert any(l.startswith(b"Subject: ") for l in lines), lines
s.quit()
print("ok")
