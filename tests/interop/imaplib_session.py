"""Python imaplib against Ferrymail: a whole session over imap (plain login allowed in the
test config) and imaps. Usage: imaplib_session.py IMAP_PORT IMAPS_PORT USER PASSWORD"""
import imaplib
import ssl
import sys

imap_port, imaps_port, user, password = sys.argv[1:5]

m = imaplib.IMAP4("127.0.0.1", int(imap_port))
assert "IMAP4REV2" in m.capabilities or "IMAP4rev2" in m.capabilities, m.capabilities
typ, _ = m.login(user, password)
assert typ == "OK"
typ, boxes = m.list()
assert typ == "OK" and any(b'INBOX' in b for b in boxes), boxes
typ, data = m.select("INBOX")
assert typ == "OK" and data[0] == b"1", data
typ, data = m.fetch("1", "(RFC822)")
assert typ == "OK" and b"Subject: py" in data[0][1], data
typ, data = m.search(None, "ALL")
assert data == [b"1"], data
typ, data = m.store("1", "+FLAGS", "\\Flagged")
assert typ == "OK", data
typ, data = m.uid("SEARCH", None, "FLAGGED")
assert typ == "OK" and data[0], data
typ, _ = m.create("Py/Sub")
assert typ == "OK"
typ, data = m.append("Py/Sub", "(\\Seen)", None, b"Subject: appended\r\n\r\nhello\r\n")
assert typ == "OK", data
typ, data = m.copy("1", "Py/Sub")
assert typ == "OK", data
typ, data = m.status("Py/Sub", "(MESSAGES UNSEEN)")
assert typ == "OK" and b"MESSAGES 2" in data[0], data
typ, _ = m.rename("Py/Sub", "Py/Renamed")
assert typ == "OK"
typ, _ = m.delete("Py/Renamed")
assert typ == "OK"
m.close()
m.logout()

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = imaplib.IMAP4_SSL("127.0.0.1", int(imaps_port), ssl_context=ctx)
s.login(user, password)
typ, data = s.select("INBOX", readonly=True)
assert typ == "OK"
typ, data = s.fetch("1", "(BODYSTRUCTURE ENVELOPE)")
assert typ == "OK" and b"BODYSTRUCTURE" in data[0], data
s.logout()
print("ok")
