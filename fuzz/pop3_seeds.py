#!/usr/bin/env python3
"""Writes the seed corpus of the pop3_session fuzz target (corpus/pop3_session/).

Each seed is one option byte (see src/protocols/pop3/fuzz.rs, `Options`) and a client
session. Every session is written with a few option bytes: its name ends in the byte in hex.
Run from fuzz/: python3 pop3_seeds.py
"""

import base64
import os

# Option bits: 0x01 TLS active, 0x02 plaintext login allowed, 0x04 STLS offered,
# 0x30 read size (1, 7, 64, 4096), 0x48 backend: 0x08 maildrop locked elsewhere, 0x40
# storage failing, 0x48 message 2 expunged elsewhere after login; 0x80 every login fails.
PRE = [0x02, 0x13, 0x32]  # plaintext allowed or TLS; the first login fails, the second works
TLS = [0x01, 0x35]

# The in-memory checker alternates failure and success, failure first.
LOGIN = b"USER alice@fuzz.test\r\nPASS wrong\r\nUSER alice@fuzz.test\r\nPASS secret\r\n"


def b64(s):
    return base64.b64encode(s).decode()


SEEDS = {
    "01-capa-quit": (PRE + [0x04, 0x00], b"CAPA\r\nQUIT\r\nNOOP\r\n"),
    "02-login-stat-list-uidl": (PRE, LOGIN + b"CAPA\r\nSTAT\r\nLIST\r\nLIST 2\r\nLIST 9\r\nUIDL\r\nUIDL 4\r\nUIDL 0\r\nQUIT\r\n"),
    "03-retr-top": (PRE, LOGIN + b"RETR 1\r\nRETR 2\r\nRETR 3\r\nRETR 4\r\nTOP 1 0\r\nTOP 1 1\r\nTOP 2 99\r\nTOP 4 2\r\nTOP 5 1\r\nQUIT\r\n"),
    "04-dele-rset-quit": (PRE, LOGIN + b"RETR 1\r\nDELE 1\r\nDELE 1\r\nRETR 1\r\nSTAT\r\nRSET\r\nDELE 2\r\nRETR 3\r\nNOOP\r\nQUIT\r\nSTAT\r\n"),
    "05-lost-connection": (PRE, LOGIN + b"DELE 1\r\nDELE 2\r\nDELE 3\r\nDELE 4\r\nSTAT\r\n"),
    "06-sasl-plain": (PRE, ("AUTH\r\nAUTH PLAIN %s\r\nAUTH PLAIN\r\n%s\r\nSTAT\r\nQUIT\r\n" % (b64(b"\0alice@fuzz.test\0wrong"), b64(b"\0alice@fuzz.test\0secret"))).encode()),
    "07-sasl-login": (PRE, ("AUTH LOGIN\r\n%s\r\n%s\r\nAUTH LOGIN %s\r\n%s\r\nLIST\r\n" % (b64(b"alice@fuzz.test"), b64(b"wrong"), b64(b"alice@fuzz.test"), b64(b"secret"))).encode()),
    "08-sasl-errors": (PRE, ("AUTH PLAIN\r\n*\r\nAUTH LOGIN\r\n*\r\nAUTH PLAIN !!!\r\nAUTH PLAIN =\r\nAUTH PLAIN %s\r\nAUTH CRAM-MD5\r\nAUTH PLAIN %s\r\nAUTH PLAIN\r\n\r\nAUTH LOGIN\r\n\xff\r\nAUTH\r\n" % (b64(b"only\0two"), b64(b"bob\0alice@fuzz.test\0secret"))).encode("latin-1")),
    "09-three-failures": ([0x82, 0x92, 0xB2], LOGIN + b"USER alice@fuzz.test\r\nPASS again\r\nSTAT\r\n"),
    "10-stls": ([0x04, 0x14, 0x34], b"CAPA\r\nUSER alice@fuzz.test\r\nSTLS\r\nCAPA\r\nSTLS\r\n" + LOGIN + b"STLS\r\nQUIT\r\n"),
    "11-stls-injection": ([0x04, 0x34, 0x06], b"STLS\r\nUSER alice@fuzz.test\r\nPASS secret\r\nSTAT\r\n"),
    "12-no-plaintext": ([0x00, 0x10, 0x30], b"USER alice@fuzz.test\r\nPASS secret\r\nAUTH PLAIN " + b64(b"\0alice@fuzz.test\0secret").encode() + b"\r\nAUTH\r\nSTLS\r\n"),
    "13-wrong-state": (PRE, b"STAT\r\nLIST\r\nRETR 1\r\nDELE 1\r\nNOOP\r\nRSET\r\nTOP 1 1\r\nUIDL\r\nPASS x\r\n" + LOGIN + b"USER x\r\nPASS y\r\nAUTH PLAIN\r\nSTLS\r\nUTF8\r\n"),
    "14-bad-commands": (PRE, b"\r\n\r\nXYZZY\r\nAPOP a b\r\nSTAT x\r\nRETR\r\nRETR -1\r\nRETR 99999999999\r\nLIST  1\r\nTOP 1\r\nUSER a b\r\nNOOP\x01\r\nUSER \xff\r\n" + b"X" * 300 + b"\r\nbare\nCAPA\n"),
    "15-long-lines": (PRE, b"USER " + b"x" * 20000 + b"\r\nAUTH PLAIN " + b"A" * 13000 + b"\r\nAUTH PLAIN\r\n" + b"B" * 13000 + b"\r\nCAPA\r\n"),
    "16-in-use": ([0x0A, 0x1A, 0x3A], LOGIN + b"USER alice@fuzz.test\r\nPASS secret\r\nSTAT\r\n"),
    "17-storage-failing": ([0x42, 0x52, 0x72], LOGIN + b"STAT\r\n"),
    "18-message-gone": ([0x4A, 0x5A, 0x7A], LOGIN + b"RETR 2\r\nTOP 2 0\r\nRETR 1\r\nDELE 2\r\nQUIT\r\n"),
    "19-utf8": (PRE, "UTF8\r\nUTF8 x\r\nUSER jos\u00e9@fuzz.test\r\nPASS x\r\n".encode() + LOGIN + b"UTF8\r\nRETR 3\r\n"),
    "20-pipelined-session": (PRE, b"CAPA\r\n" + LOGIN + b"STAT\r\nUIDL\r\nLIST\r\nTOP 1 1\r\nRETR 1\r\nDELE 1\r\nRSET\r\nDELE 2\r\nQUIT\r\n"),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "pop3_session")
    os.makedirs(out, exist_ok=True)
    for name, (options, text) in SEEDS.items():
        for opt in options:
            with open(os.path.join(out, "%s-%02x" % (name, opt)), "wb") as f:
                f.write(bytes([opt]) + text)


if __name__ == "__main__":
    main()
