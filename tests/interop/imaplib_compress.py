"""Python imaplib over COMPRESS=DEFLATE (RFC 4978): after the tagged OK both directions are
raw deflate (zlib with wbits=-15), each write sync-flushed. Usage:
imaplib_compress.py PORT IMAPS_PORT USER PASSWORD (plain IMAP, where the test config allows
plain login, then implicit TLS: compression goes inside TLS).

Prints "compress ok wire=N inflated=M" (bytes read from the socket, bytes they inflated to),
"compress over tls ok" and "pipelined compress ok"."""
import imaplib
import os
import socket
import sys
import zlib

import ssl

port, tls_port, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
# imaplib knows no COMPRESS: allow it where RFC 4978 does.
imaplib.Commands["COMPRESS"] = ("AUTH", "SELECTED")


class Deflating:
    """The COMPRESS layer spliced in under imaplib's reads and writes."""

    deflating = False
    wire = 0
    inflated = 0

    def compress(self):
        typ, data = self._simple_command("COMPRESS", "DEFLATE")
        assert typ == "OK", (typ, data)
        self.deflating = True
        self.out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inp = zlib.decompressobj(-15)
        self.buf = b""

    def send(self, data):
        if self.deflating:
            data = self.out.compress(data) + self.out.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("server closed the connection")
        self.wire += len(chunk)
        more = self.inp.decompress(chunk)
        self.inflated += len(more)
        self.buf += more

    def read(self, size):
        if not self.deflating:
            return super().read(size)
        while len(self.buf) < size:
            self._fill()
        out, self.buf = self.buf[:size], self.buf[size:]
        return out

    def readline(self):
        if not self.deflating:
            return super().readline()
        while b"\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\n") + 1
        out, self.buf = self.buf[:i], self.buf[i:]
        return out


class DeflateIMAP(Deflating, imaplib.IMAP4):
    pass


class DeflateIMAPS(Deflating, imaplib.IMAP4_SSL):
    pass


m = DeflateIMAP("127.0.0.1", port)
m.sock.settimeout(20)
assert "COMPRESS=DEFLATE" not in m.capabilities, m.capabilities
typ, _ = m.login(user, password)
assert typ == "OK"
typ, caps = m.capability()
assert b"COMPRESS=DEFLATE" in caps[0], caps
m.compress()

# Everything from here on goes through the deflate streams.
typ, data = m.select("INBOX")
assert typ == "OK", data
# A message of text (compresses well) with a random part (does not), over several reads;
# under 64 KiB, the literal bound before login-independent APPEND limits apply everywhere.
body = (b"All work and no play makes Jack a dull boy.\r\n" * 1000) + os.urandom(6000).hex().encode()
message = b"Subject: squeezed\r\nFrom: a@example.net\r\n\r\n" + body + b"\r\n"
typ, data = m.append("INBOX", None, None, message)
assert typ == "OK", data
typ, data = m.fetch("1", "(BODY.PEEK[])")
assert typ == "OK" and data[0][1] == message, "fetched message differs"
typ, data = m.search(None, "SUBJECT", "squeezed")
assert data == [b"1"], data
# A second COMPRESS: refused with COMPRESSIONACTIVE, and the session carries on.
try:
    m._simple_command("COMPRESS", "DEFLATE")
    raise AssertionError("second COMPRESS accepted")
except imaplib.IMAP4.error as e:
    assert "COMPRESSIONACTIVE" in str(e), e
typ, caps = m.capability()
assert typ == "OK" and b"UNAUTHENTICATE" not in caps[0], caps
typ, _ = m.noop()
assert typ == "OK"
typ, _ = m.logout()
assert typ == "BYE"
assert m.wire < m.inflated, (m.wire, m.inflated)
print(f"compress ok wire={m.wire} inflated={m.inflated}")

# Inside TLS (the self-signed test certificate: no verification).
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = DeflateIMAPS("127.0.0.1", tls_port, ssl_context=ctx)
t.sock.settimeout(20)
typ, _ = t.login(user, password)
assert typ == "OK"
t.compress()
typ, data = t.select("INBOX")
assert typ == "OK", data
typ, data = t.fetch("1", "(BODY.PEEK[])")
assert typ == "OK" and data[0][1] == message, "fetched message differs over TLS"
typ, _ = t.logout()
assert typ == "BYE"
print("compress over tls ok")

# A client that does not wait for the OK: COMPRESS and a compressed NOOP in one write.
s = socket.create_connection(("127.0.0.1", port), timeout=20)
# Unbuffered: a buffered reader could swallow the compressed bytes after the OK line.
f = s.makefile("rb", buffering=0)
f.readline()
s.sendall(b'l LOGIN %s "%s"\r\n' % (user.encode(), password.encode()))
while not f.readline().startswith(b"l OK"):
    pass
out = zlib.compressobj(6, zlib.DEFLATED, -15)
s.sendall(b"c COMPRESS DEFLATE\r\n" + out.compress(b"n NOOP\r\n") + out.flush(zlib.Z_SYNC_FLUSH))
line = f.readline()
assert line == b"c OK DEFLATE active\r\n", line
inp = zlib.decompressobj(-15)
got = b""
while b"\n" not in got:
    chunk = s.recv(4096)
    assert chunk, "closed"
    got += inp.decompress(chunk)
assert got == b"n OK NOOP completed\r\n", got
print("pipelined compress ok")
