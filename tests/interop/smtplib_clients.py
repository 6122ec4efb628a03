"""Python smtplib against Ferrymail: plain on the smtp port, STARTTLS + AUTH on submission,
implicit TLS + AUTH on smtps, AUTH LOGIN too. Usage:
    smtplib_clients.py HOST SMTP_PORT SUBMISSION_PORT SMTPS_PORT USER PASSWORD MESSAGE_FILE
Each sends MESSAGE_FILE (bytes, CRLF) to USER with a distinct X-Client header prepended.
"""
import smtplib
import ssl
import sys

host, smtp_port, sub_port, smtps_port, user, password, path = sys.argv[1:8]
raw = open(path, "rb").read()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def body(tag):
    return b"X-Client: " + tag.encode() + b"\r\n" + raw


# 1. plain, port 25 style, no auth, to a local user
with smtplib.SMTP(host, int(smtp_port), timeout=30) as s:
    s.ehlo("py.example.net")
    assert s.has_extn("pipelining") and s.has_extn("8bitmime") and s.has_extn("chunking")
    s.sendmail("sender@example.net", [user], body("plain"))

# 2. submission: STARTTLS, then AUTH PLAIN
with smtplib.SMTP(host, int(sub_port), timeout=30) as s:
    s.ehlo("py.example.net")
    s.starttls(context=ctx)
    s.ehlo("py.example.net")
    s.login(user, password)  # smtplib prefers CRAM-MD5, then PLAIN
    s.sendmail(user, [user], body("starttls"))

# 3. implicit TLS (465)
with smtplib.SMTP_SSL(host, int(smtps_port), timeout=30, context=ctx) as s:
    s.ehlo("py.example.net")
    s.login(user, password)
    s.sendmail(user, [user], body("smtps"))

# 4. AUTH LOGIN explicitly, and a wrong password refused with 535
with smtplib.SMTP_SSL(host, int(smtps_port), timeout=30, context=ctx) as s:
    s.ehlo("py.example.net")
    try:
        s.login(user, password + "x")
        raise SystemExit("a wrong password was accepted")
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535, e
    s.user, s.password = user, password
    code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
    assert code == 235, code
    s.sendmail(user, [user], body("login"))

# 5. relay refused for an unauthenticated client
with smtplib.SMTP(host, int(smtp_port), timeout=30) as s:
    try:
        s.sendmail("sender@example.net", ["someone@elsewhere.example"], body("relay"))
        raise SystemExit("relayed without authentication")
    except smtplib.SMTPRecipientsRefused as e:
        code, _ = e.recipients["someone@elsewhere.example"]
        assert code == 554, e

print("ok")
