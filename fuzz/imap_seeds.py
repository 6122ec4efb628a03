#!/usr/bin/env python3
"""Writes the seed corpus of the imap_session fuzz target (corpus/imap_session/).

Each seed is one option byte (see src/protocols/imap/fuzz.rs, `Options`) and a client
session. Every session is written with a few option bytes: its name ends in the byte in hex.
Run from fuzz/: python3 imap_seeds.py
"""

import base64
import hashlib
import hmac
import os

# Option bits: 0x01 TLS active, 0x02 plaintext login allowed, 0x04 STARTTLS offered,
# 0x08 LOGIN+SELECT INBOX prefix, 0x30 read size (1, 7, 64, 4096), 0x40 folder changes
# between reads, 0x80 every login fails.
PRE = [0x02, 0x13, 0x32]  # not authenticated: the session logs in itself (first try fails)
SEL = [0x08, 0x28, 0x58, 0x3A]  # selected INBOX from the start

MSG = (
    b"Date: Thu, 16 Nov 2023 08:00:00 +0100\r\n"
    b"From: Alice <alice@fuzz.test>\r\n"
    b"To: Bob <bob@fuzz.test>\r\n"
    b"Subject: Draft of the plan\r\n"
    b"Message-ID: <draft1@fuzz.test>\r\n"
    b"\r\n"
    b"First draft.\r\n"
)
MSG2 = (
    b"From: bob@fuzz.test\r\nTo: alice@fuzz.test\r\nSubject: Re: Draft of the plan\r\n"
    b"In-Reply-To: <draft1@fuzz.test>\r\nReferences: <draft1@fuzz.test>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
    b"--b1\r\nContent-Type: text/plain\r\n\r\nLooks good.\r\n"
    b"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"AAECAwQFBgc=\r\n--b1--\r\n"
)


def urlauth(rump, key=b"mem-key-1"):
    """A URLAUTH URL as the in-memory backend's GENURLAUTH makes it (its first key is
    "mem-key-1"), so that seeds reach URLFETCH's success path."""
    return rump + b":INTERNAL:" + hmac.new(key, rump, hashlib.sha256).hexdigest().encode()


def lit(data, plus=False):
    return b"{%d%s}\r\n" % (len(data), b"+" if plus else b"") + data


def b64(s):
    return base64.b64encode(s).decode()


LOGIN = b"L0 LOGIN alice@fuzz.test wrong\r\nL1 LOGIN alice@fuzz.test secret\r\n"

SEEDS = {
    # --- not authenticated -----------------------------------------------------------
    "01-capability-id-logout": (PRE, b"a CAPABILITY\r\nb NOOP\r\nc ID (\"name\" \"Thunderbird\" \"version\" \"115.4\")\r\nd ID NIL\r\ne LOGOUT\r\n"),
    "02-login": (PRE, LOGIN + b"a CAPABILITY\r\nb LOGIN again x\r\nc LOGOUT\r\n"),
    "03-login-literals": (PRE, b"a LOGIN {15}\r\nalice@fuzz.test {5}\r\nwrong\r\nb LOGIN {15+}\r\nalice@fuzz.test \"se\\\"cret\"\r\nc NOOP\r\n"),
    "04-authenticate-plain-ir": (PRE, ("a AUTHENTICATE PLAIN %s\r\nb AUTHENTICATE PLAIN %s\r\nc CAPABILITY\r\n" % (b64(b"\0alice@fuzz.test\0wrong"), b64(b"alice@fuzz.test\0alice@fuzz.test\0secret"))).encode()),
    "05-authenticate-plain-continuation": (PRE, ("a AUTHENTICATE PLAIN\r\n%s\r\nb AUTHENTICATE PLAIN\r\n%s\r\nc LIST \"\" %%\r\n" % (b64(b"\0alice@fuzz.test\0wrong"), b64(b"\0alice@fuzz.test\0secret"))).encode()),
    "06-authenticate-login": (PRE, ("a AUTHENTICATE LOGIN\r\n%s\r\n%s\r\nb AUTHENTICATE LOGIN %s\r\n%s\r\nc NAMESPACE\r\n" % (b64(b"alice@fuzz.test"), b64(b"wrong"), b64(b"alice@fuzz.test"), b64(b"secret"))).encode()),
    "07-sasl-cancel-and-errors": (PRE, ("a AUTHENTICATE PLAIN\r\n*\r\nb AUTHENTICATE LOGIN\r\n*\r\nc AUTHENTICATE PLAIN\r\n!!!notbase64\r\nd AUTHENTICATE XOAUTH2 dXNlcg==\r\ne AUTHENTICATE PLAIN =\r\nf AUTHENTICATE PLAIN %s\r\ng AUTHENTICATE\r\nh AUTHENTICATE PLAIN\r\n\r\n" % b64(b"only\0two")).encode()),
    "08-three-failures": ([0x82, 0x92, 0xB2], b"a LOGIN alice@fuzz.test x\r\nb LOGIN alice@fuzz.test y\r\nc LOGIN alice@fuzz.test z\r\nd LOGIN alice@fuzz.test secret\r\ne NOOP\r\n"),
    "09-starttls": ([0x04, 0x14, 0x34], b"a CAPABILITY\r\nb LOGIN alice@fuzz.test secret\r\nc STARTTLS\r\nd CAPABILITY\r\ne STARTTLS\r\n" + LOGIN + b"f LOGOUT\r\n"),
    "10-starttls-injection": ([0x04, 0x34, 0x06], b"a STARTTLS\r\nb LOGIN alice@fuzz.test secret\r\nc SELECT INBOX\r\n"),
    "11-before-login": (PRE, b"a SELECT INBOX\r\nb FETCH 1 FLAGS\r\nc LIST \"\" *\r\nd ENABLE CONDSTORE\r\ne IDLE\r\nf APPEND INBOX {5}\r\nhello\r\ng LOGOUT\r\n"),
    # --- authenticated ---------------------------------------------------------------
    "12-enable": (PRE, LOGIN + b"a ENABLE IMAP4rev2 UTF8=ACCEPT\r\nb ENABLE CONDSTORE QRESYNC X-UNKNOWN\r\nc ENABLE IMAP4rev2\r\nd ENABLE\r\n"),
    "13-list-variants": (PRE, LOGIN + b"a LIST \"\" \"\"\r\nb LIST \"\" *\r\nc LIST \"\" %\r\nd LIST \"\" Archive/%\r\ne LIST (SUBSCRIBED) \"\" *\r\nf LIST (SPECIAL-USE) \"\" * RETURN (SPECIAL-USE CHILDREN)\r\ng LIST \"\" * RETURN (STATUS (MESSAGES UNSEEN SIZE HIGHESTMODSEQ))\r\nh LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (SUBSCRIBED)\r\ni LIST \"\" (INBOX Sent \"Archive/*\")\r\nj LSUB \"\" *\r\nk LIST \"\" \"Other Users/*\"\r\nl LIST \"Public Folders/\" %\r\nm NAMESPACE\r\nn LIST (REMOTE) \"\" *\r\n"),
    "14-status": (PRE, LOGIN + b"a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ APPENDLIMIT)\r\nb STATUS Sent (MESSAGES)\r\nc STATUS Nope (MESSAGES)\r\nd STATUS \"Other Users/bob@fuzz.test/Team\" (MESSAGES UNSEEN)\r\ne STATUS INBOX ()\r\n"),
    "15-create-rename-delete": (PRE, LOGIN + b"a CREATE Projects\r\nb CREATE Projects/2024/\r\nc CREATE Junk (USE (\\Junk))\r\nd CREATE Projects\r\ne RENAME Projects Old\r\nf SUBSCRIBE Old/2024\r\ng UNSUBSCRIBE Old\r\nh LIST \"\" Old*\r\ni DELETE Old/2024\r\nj DELETE INBOX\r\nk RENAME INBOX Saved\r\nl DELETE Nope\r\nm CREATE \"Public Folders/News\"\r\nn CREATE \"Other Users/bob@fuzz.test/Mine\"\r\n"),
    "16-append-literals": (PRE, LOGIN + b"a APPEND Drafts (\\Draft $Pending) \"16-Nov-2023 08:00:00 +0100\" " + lit(MSG) + b"\r\nb APPEND INBOX " + lit(MSG2, plus=True) + b"\r\nc APPEND Sent (\\Seen) " + lit(MSG) + b" " + lit(MSG2) + b"\r\nd APPEND INBOX ~" + lit(b"bin\0ary\r\n") + b"\r\ne APPEND INBOX UTF8 (~" + lit(MSG) + b")\r\nf APPEND Nope " + lit(MSG) + b"\r\ng APPEND INBOX {999999999}\r\nh STATUS Drafts (MESSAGES)\r\n"),
    "17-acl": (PRE, LOGIN + b"a GETACL INBOX\r\nb SETACL INBOX bob@fuzz.test lrs\r\nc SETACL INBOX bob@fuzz.test +wi\r\nd SETACL INBOX anyone -r\r\ne LISTRIGHTS INBOX bob@fuzz.test\r\nf MYRIGHTS INBOX\r\ng DELETEACL INBOX bob@fuzz.test\r\nh GETACL INBOX\r\ni MYRIGHTS \"Other Users/bob@fuzz.test/Team\"\r\nj GETACL \"Other Users/bob@fuzz.test/Team\"\r\nk SETACL \"Other Users/bob@fuzz.test/Team\" carol@example.org lr\r\nl SETACL INBOX nobody@nowhere lr\r\nm GETACL \"Public Folders/Announcements\"\r\nn SETACL INBOX bob@fuzz.test xyz\r\n"),
    "18-quota": (PRE, LOGIN + b"a GETQUOTAROOT INBOX\r\nb GETQUOTA \"\"\r\nc GETQUOTA alice@fuzz.test\r\nd SETQUOTA \"\" (STORAGE 100 MESSAGE 10)\r\ne SETQUOTA \"\" ()\r\nf GETQUOTAROOT Nope\r\ng GETQUOTA bob@fuzz.test\r\n"),
    "19-shared-folders": (PRE, LOGIN + b"a LIST \"\" \"Other Users/*\"\r\nb SELECT \"Other Users/bob@fuzz.test/Team\"\r\nc FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\nd STORE 1 +FLAGS (\\Seen)\r\ne STORE 2 +FLAGS (\\Deleted)\r\nf EXPUNGE\r\ng EXAMINE \"Public Folders/Announcements\"\r\nh FETCH 1 BODY[]\r\ni STORE 1 +FLAGS (\\Flagged)\r\nj SELECT \"Other Users/bob@fuzz.test/INBOX\"\r\n"),
    "20-utf8-names": (PRE, LOGIN + "a CREATE \"Entw&APw-rfe\"\r\nb ENABLE UTF8=ACCEPT\r\nc CREATE \"Ärger\"\r\nd SELECT \"Ärger\"\r\ne LIST \"\" *\r\nf RENAME \"Ärger\" \"&-und-\"\r\ng SELECT \"&Jjo-\"\r\nh CREATE \"&bad\"\r\n".encode()),
    # --- selected --------------------------------------------------------------------
    "21-select-examine": (PRE, LOGIN + b"a SELECT INBOX (CONDSTORE)\r\nb EXAMINE Sent\r\nc UNSELECT\r\nd SELECT Archive/2023\r\ne CLOSE\r\nf SELECT Nope\r\ng SELECT inbox\r\nh SELECT \"Other Users\"\r\ni CHECK\r\n"),
    "22-qresync": (PRE, LOGIN + b"a ENABLE QRESYNC\r\nb SELECT INBOX (QRESYNC (1001 1))\r\nc UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\nd SELECT INBOX (QRESYNC (1001 2 1:10 (1:4 1:4)))\r\ne FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 1)\r\nf SELECT INBOX (QRESYNC (99 1))\r\ng UID EXPUNGE 4\r\nh SELECT INBOX (QRESYNC (1001 1 1:9))\r\n"),
    "23-fetch-items": (SEL, b"a FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE UID)\r\nb FETCH 1 ALL\r\nc FETCH 2 FAST\r\nd FETCH 3 FULL\r\ne FETCH 3 (BODY[1.1] BODY.PEEK[1.2.MIME] BODY[2]<0.10> BINARY[1.1] BINARY.SIZE[2] BINARY.PEEK[2])\r\nf FETCH 1 (BODY[HEADER.FIELDS (From Subject)] BODY.PEEK[HEADER.FIELDS.NOT (To Cc)] BODY[TEXT] RFC822.HEADER RFC822.TEXT)\r\ng UID FETCH 1:* (PREVIEW)\r\nh FETCH 1:4 (PREVIEW (LAZY))\r\ni FETCH 3 (BODY[3.HEADER] BODY[3.TEXT] BODY[3.1] BODY[4])\r\nj FETCH 2 (BINARY[] BODY[]<5.20> RFC822)\r\nk FETCH * MODSEQ\r\nl FETCH 1,3:4 BODY\r\nm UID FETCH 2:3 (UID FLAGS) (CHANGEDSINCE 1)\r\n"),
    "24-store": (SEL, b"a STORE 1 +FLAGS (\\Flagged $Important)\r\nb STORE 1:2 -FLAGS.SILENT (\\Seen)\r\nc STORE 2 FLAGS (\\Answered)\r\nd UID STORE 1:* (UNCHANGEDSINCE 5) +FLAGS (\\Deleted)\r\ne STORE 4 +FLAGS \\Draft\r\nf STORE 3 FLAGS ()\r\ng STORE 1:* -FLAGS.SILENT (\\Deleted)\r\nh UID STORE 3 (UNCHANGEDSINCE 1) FLAGS.SILENT ($Junk)\r\ni FETCH 1:* (FLAGS)\r\n"),
    "25-search-keys": (SEL, b"a SEARCH ALL\r\nb SEARCH UNSEEN FROM bob SINCE 1-Nov-2023\r\nc SEARCH OR FLAGGED ANSWERED NOT DELETED\r\nd SEARCH HEADER List-Id news LARGER 100 SMALLER 100000\r\ne SEARCH SUBJECT \"Lunch\" BODY friday TEXT report\r\nf SEARCH CHARSET UTF-8 SUBJECT " + lit("\u2713 report".encode()) + b"\r\ng UID SEARCH UID 1:3 KEYWORD $Junk\r\nh SEARCH BEFORE 1-Jan-2030 ON 14-Nov-2023 SENTBEFORE 1-Jan-2030 SENTON 13-Nov-2023 SENTSINCE 1-Jan-2000\r\ni SEARCH NEW OLD RECENT SEEN\r\nj SEARCH OLDER 3600 YOUNGER 999999\r\nk SEARCH MODSEQ 2\r\nl SEARCH 1:2,4 UNKEYWORD x UNANSWERED UNFLAGGED UNDRAFT\r\nm SEARCH DRAFT CC dave BCC alice TO carol\r\nn SEARCH (OR (FROM bob) (TO bob)) (NOT (SUBJECT re))\r\no SEARCH RETURN (MIN MAX COUNT ALL) UNDELETED\r\np SEARCH RETURN () ALL\r\nq SEARCH CHARSET US-ASCII ALL\r\nr SEARCH *\r\n"),
    "26-searchres": (SEL, b"a SEARCH RETURN (SAVE) FLAGGED\r\nb FETCH $ (UID FLAGS)\r\nc UID STORE $ +FLAGS (\\Seen)\r\nd COPY $ Trash\r\ne SEARCH RETURN (SAVE MIN) ALL\r\nf SEARCH $ UNSEEN\r\ng UID SEARCH RETURN (SAVE) UID 9:*\r\nh FETCH $ FLAGS\r\n"),
    "27-sort": (SEL, b"a SORT (ARRIVAL) UTF-8 ALL\r\nb SORT (REVERSE DATE SUBJECT) UTF-8 ALL\r\nc SORT (FROM TO CC SIZE) US-ASCII UNSEEN\r\nd SORT (DISPLAYFROM DISPLAYTO) UTF-8 ALL\r\ne UID SORT (REVERSE ARRIVAL) UTF-8 SINCE 1-Jan-2020\r\nf SORT RETURN (MIN MAX COUNT) (SIZE) UTF-8 ALL\r\ng SORT RETURN (ALL) (SUBJECT) UTF-8 ALL\r\nh SORT (SUBJECT) KOI8-R ALL\r\n"),
    "28-thread": (SEL, b"a THREAD ORDEREDSUBJECT UTF-8 ALL\r\nb THREAD REFERENCES UTF-8 SINCE 1-Jan-2020\r\nc UID THREAD REFERENCES US-ASCII ALL\r\nd THREAD REFERENCES UTF-8 NOT DELETED\r\n"),
    "29-copy-move-expunge": (SEL, b"a COPY 1:2 Trash\r\nb UID COPY 1 Archive\r\nc MOVE 3 Sent\r\nd UID MOVE 4 Nope\r\ne STORE 1 +FLAGS (\\Deleted)\r\nf EXPUNGE\r\ng UID EXPUNGE 2\r\nh CHECK\r\ni COPY 1:* \"Other Users/bob@fuzz.test/Team\"\r\nj MOVE 1:* INBOX\r\nk CLOSE\r\nl SELECT Trash\r\n"),
    "30-idle": (SEL, b"a IDLE\r\nDONE\r\nb NOOP\r\nc IDLE\r\nNOOP\r\nd IDLE\r\ndone\r\ne IDLE\r\nDO"),
    "31-idle-updates": ([0x48, 0x58, 0x68], b"a IDLE\r\nDONE" + b" " * 120 + b"\r\nb NOOP\r\nc FETCH 1:* FLAGS\r\nd SEARCH ALL\r\ne UID FETCH 1:* FLAGS\r\nf IDLE\r\nDONE" + b" " * 120 + b"\r\ng NOOP\r\n"),
    "32-examine-read-only": (SEL, b"a EXAMINE INBOX\r\nb STORE 1 +FLAGS (\\Seen)\r\nc EXPUNGE\r\nd FETCH 1 BODY[]\r\ne FETCH 1 FLAGS\r\nf MOVE 1 Trash\r\ng CLOSE\r\n"),
    "33-pipelined-session": (PRE, LOGIN + b"a ENABLE IMAP4rev2\r\nb SELECT INBOX\r\nc FETCH 1:* (UID FLAGS ENVELOPE)\r\nd APPEND INBOX " + lit(MSG, plus=True) + b"\r\ne NOOP\r\nf UID SEARCH ALL\r\ng UID FETCH * BODY.PEEK[]\r\nh LOGOUT\r\ni NOOP\r\n"),
    # --- malformed -------------------------------------------------------------------
    "34-garbage": (PRE, b"\r\n\r\n*\r\na\r\na \r\n a NOOP\r\n* LOGIN x y\r\na(b NOOP\r\n\"a\" NOOP\r\na NOOP extra\r\na FROB\r\n\x00\x01\x02\xff\xfe\r\na LOGIN \"unterminated\r\na LOGIN x\r\na\tNOOP\r\nbare-lf NOOP\na CAPABILITY\n"),
    "35-malformed-selected": (SEL, b"a FETCH 0 FLAGS\r\nb FETCH 1 (BODY[0])\r\nc FETCH 1 BODY[1.2.3.4.5.6.7.8.9.0]\r\nd FETCH 1 BODY[]<4294967295.4294967295>\r\ne SEARCH ((((((\r\nf SEARCH OR\r\ng STORE 1 FLAGS (\\Recent)\r\nh SORT () UTF-8 ALL\r\ni THREAD UNKNOWN UTF-8 ALL\r\nk UID FETCH 4294967295 FLAGS\r\nl FETCH *:* FLAGS\r\nm FETCH 4294967296 FLAGS\r\nn FETCH 1:* (FLAGS\r\no FETCH 1 BODY[HEADER.FIELDS ()]\r\np STORE 1 +FLAGS (\\Seen\r\nq SEARCH LARGER x\r\nr SEARCH SINCE 32-Foo-2023\r\ns COPY 1:* \"\"\r\nt FETCH 1 BINARY[1.]\r\nu FETCH 3 BODY[1.1.1.1.TEXT]\r\nv FETCH 1 BODY[MIME]\r\nw UID EXPUNGE 0:*\r\nx SEARCH UID 1:4294967295\r\nj SELECT \"\"\r\ny FETCH 1 FLAGS\r\n"),
    "36-literals-malformed": (PRE, b"a NOOP {3+}\r\nabc\r\nb LOGIN {99999999}\r\nc LOGIN {5}\r\nab\r\ncd\r\nd NOOP {3-}\r\nxyz\r\ne LOGIN ~{4}\r\n\x00\x00\x00\x00 x\r\nf LOGIN {-1}\r\ng LOGIN {18446744073709551616}\r\nh LOGIN \"x\" {1}\r\n"),
    "37-literal-too-large": (PRE, LOGIN + b"a APPEND INBOX {999999+}\r\n" + b"x" * 300 + b"\r\nb NOOP\r\n"),
    "38-long-lines": (PRE, b"a LOGIN " + b"x" * 9000 + b" y\r\nb NOOP\r\n" + b"c " + b"(" * 3000 + b"\r\nd CAPABILITY\r\n"),
    "39-deep-nesting": (SEL, b"a SEARCH " + b"NOT " * 2000 + b"ALL\r\nb SEARCH " + b"(" * 500 + b"ALL" + b")" * 500 + b"\r\nc SEARCH " + b"OR ALL " * 1000 + b"ALL\r\nd FETCH 1:* (" + b"FLAGS " * 500 + b"UID)\r\ne FETCH " + b"1," * 2000 + b"2 FLAGS\r\n"),
    "40-idle-before-select": (PRE, LOGIN + b"a IDLE\r\nDONE\r\nb IDLE\r\nc LOGOUT\r\n"),
    # --- OBJECTID, METADATA, CATENATE ------------------------------------------------
    "41-objectid": (SEL, b"a FETCH 1:* (EMAILID THREADID)\r\nb UID FETCH 2 (UID THREADID EMAILID)\r\nc SEARCH THREADID T1\r\nd SEARCH EMAILID M0 OR THREADID NIL EMAILID x\r\ne STATUS INBOX (MAILBOXID MESSAGES)\r\nf LIST \"\" * RETURN (STATUS (MAILBOXID))\r\ng CREATE New\r\nh SEARCH EMAILID M/1\r\ni COPY 1 New\r\n"),
    "42-metadata": (PRE, LOGIN + b"a SETMETADATA INBOX (/private/comment \"mine\" /shared/comment " + lit(b"ours", plus=True) + b")\r\nb GETMETADATA INBOX (/private/comment /shared/comment /private/none)\r\nc GETMETADATA (DEPTH infinity MAXSIZE 2) INBOX /private\r\nd SETMETADATA \"\" (/shared/admin \"x\")\r\ne SETMETADATA \"\" (/private/vendor/a/b ~{3+}\r\na\x00b)\r\nf GETMETADATA (DEPTH 1) \"\" (/private/vendor/a /shared)\r\ng SETMETADATA \"Public Folders/Announcements\" (/shared/x NIL)\r\nh GETMETADATA INBOX /bogus\r\ni SETMETADATA INBOX (/private/x NIL)\r\nj DELETE Trash\r\nk GETMETADATA Nope /shared/x\r\n"),
    "43-catenate": (SEL, b"a APPEND Drafts CATENATE (URL \"/INBOX/;UID=1/;SECTION=HEADER\" TEXT " + lit(b"body\r\n", plus=True) + b" URL \";UID=3/;SECTION=1.1/;PARTIAL=0.5\")\r\nb APPEND Drafts CATENATE (URL \"/INBOX;UIDVALIDITY=1/;UID=1\")\r\nc APPEND Drafts CATENATE (TEXT ~{3+}\r\nx\x00y) " + lit(MSG, plus=True) + b"\r\nd APPEND Nope CATENATE (URL \"/INBOX/;UID=1\")\r\ne APPEND Drafts CATENATE (URL \"imap://x/INBOX/;UID=1\" URL \"/INBOX/;UID=1;URLAUTH=a:b:c\")\r\nf APPEND Drafts CATENATE (BODY x)\r\n"),
    # --- NOTIFY -----------------------------------------------------------------------
    "44-notify": (SEL, b"a NOTIFY SET STATUS (selected (MessageNew (UID FLAGS ENVELOPE) MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge MailboxName SubscriptionChange MailboxMetadataChange)) (subtree \"Public Folders\" (FlagChange))\r\nb APPEND INBOX " + lit(MSG, plus=True) + b"\r\nc NOTIFY SET (selected-delayed NONE) (inboxes (MessageNew MessageExpunge))\r\nd NOTIFY SET (personal (AnnotationChange))\r\ne NOTIFY SET (selected (MessageNew))\r\nf NOTIFY SET (mailboxes (INBOX Nope) (MessageNew (UID)))\r\ng NOTIFY SET (bogus NONE)\r\nh NOTIFY NONE\r\ni STORE 1 +FLAGS (\\Seen)\r\n"),
    # --- UIDONLY -----------------------------------------------------------------------
    "44-uidonly": (SEL, b"a ENABLE UIDONLY QRESYNC\r\nb FETCH 1 FLAGS\r\nc UID FETCH 1:* (FLAGS MODSEQ UID)\r\nd UID STORE 2 +FLAGS (\\Deleted)\r\ne EXPUNGE\r\nf UID SEARCH OR 1 ALL\r\ng UID SEARCH RETURN (SAVE) SEEN\r\nh UID MOVE $ Trash\r\ni IDLE\r\nDONE\r\nj SELECT INBOX (QRESYNC (1 1 1:* (1 1)))\r\nk SELECT INBOX (QRESYNC (1 1))\r\nl NOOP\r\n"),
    # --- URLAUTH --------------------------------------------------------------------
    "48-urlauth": (SEL, b"a GENURLAUTH \"imap://alice@fuzz.test/INBOX/;UID=3/;SECTION=1;URLAUTH=anonymous\" INTERNAL\r\nb URLFETCH \"" + urlauth(b"imap://alice@fuzz.test/INBOX/;UID=3/;SECTION=1;URLAUTH=anonymous") + b"\" (\"" + urlauth(b"imap://alice@fuzz.test/INBOX/;UID=3;URLAUTH=anonymous") + b"\" BINARY BODYPARTSTRUCTURE) (x BODY)\r\nc APPEND Drafts CATENATE (URL \"" + urlauth(b"imap://alice@fuzz.test/INBOX/;UID=3/;SECTION=1;URLAUTH=anonymous") + b"\")\r\nd GENURLAUTH \"imap://alice@fuzz.test/INBOX/;UID=1;EXPIRE=2001-01-01T00:00:00Z;URLAUTH=user+bob\" INTERNAL \"imap://bob@fuzz.test/INBOX/;UID=1;URLAUTH=authuser\" INTERNAL\r\ne GENURLAUTH x XSAMPLE\r\nf RESETKEY INBOX INTERNAL\r\ng URLFETCH \"" + urlauth(b"imap://alice@fuzz.test/INBOX/;UID=3/;SECTION=1;URLAUTH=anonymous") + b"\"\r\nh RESETKEY\r\ni RESETKEY Nope\r\nj URLFETCH (a BINARY BODY)\r\n"),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "imap_session")
    os.makedirs(out, exist_ok=True)
    for name, (options, text) in SEEDS.items():
        for opt in options:
            with open(os.path.join(out, "%s-%02x" % (name, opt)), "wb") as f:
                f.write(bytes([opt]) + text)


if __name__ == "__main__":
    main()
