"""Webmail compose in headless Chromium, against a running server (started by
tests/web_browser.rs::webmail_compose_in_headless_chromium, which passes its addresses):

 1. a message from the other user is sent over SMTP; log in; open it; Reply; send;
    the reply arrives in the other user's INBOX (checked over IMAP) with In-Reply-To;
 2. a draft typed in the browser is saved by the page's script and is in Drafts over
    IMAP, flagged \\Draft, once;
 3. a 5 MiB file is attached (chunked upload), the message sent to oneself, opened in the
    reader and its attachment downloaded: the same SHA-256;
 4. at 375 px wide the compose page does not scroll sideways.

Every wait is bounded; any failure raises, and the exit status is non-zero."""

import email
import hashlib
import imaplib
import os
import smtplib
import sys
import tempfile
import time
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fm  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

BASE = os.environ["FM_BASE"].rstrip("/")
USER = os.environ["FM_USER"]
PASSWORD = os.environ["FM_PASSWORD"]
OTHER = os.environ["FM_OTHER"]
OTHER_PASSWORD = os.environ["FM_OTHER_PASSWORD"]
SMTP = os.environ["FM_SMTP"]
IMAP = os.environ["FM_IMAP"]
DOWNLOADS = os.environ["FM_DOWNLOADS"]


def step(text):
    print(f"-- {text}", flush=True)


def imap(user, password):
    host, port = IMAP.rsplit(":", 1)
    c = imaplib.IMAP4(host, int(port), timeout=60)
    c.login(user, password)
    return c


def messages(user, password, folder, criteria="ALL"):
    """(flags, message) of each message of `folder` matching `criteria`."""
    c = imap(user, password)
    try:
        typ, _ = c.select(f'"{folder}"', readonly=True)
        if typ != "OK":
            return []
        _, data = c.uid("SEARCH", None, criteria)
        out = []
        for uid in data[0].split():
            _, parts = c.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
            if not parts or parts[0] is None:
                # Expunged since the SEARCH (a draft the autosave replaced meanwhile):
                # UID FETCH of a gone UID answers no data (RFC 3501 §6.4.8).
                continue
            flags = parts[0][0].decode()
            out.append((flags, email.message_from_bytes(parts[0][1])))
        return out
    finally:
        c.logout()


def until(what, check, tries=120, pause=0.5):
    for _ in range(tries):
        got = check()
        if got:
            return got
        time.sleep(pause)
    raise AssertionError(f"gave up waiting: {what}")


def fits(d):
    inner, scroll = d.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]")
    if scroll > inner:
        wide = d.execute_script(
            "return Array.from(document.querySelectorAll('body *'))"
            ".filter(e => e.getBoundingClientRect().right > window.innerWidth)"
            ".slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className)")
        raise AssertionError(f"{d.current_url}: {scroll} px wide in a {inner} px window: {wide}")


def main():
    step("the other user writes over SMTP")
    msg = EmailMessage()
    msg["From"] = OTHER
    msg["To"] = USER
    msg["Subject"] = "Lunch on Friday"
    msg["Message-ID"] = "<lunch-1@mx.test>"
    msg.set_content("Shall we meet at noon?\n")
    host, port = SMTP.rsplit(":", 1)
    with smtplib.SMTP(host, int(port), timeout=60) as s:
        s.ehlo("client.test")
        s.send_message(msg)
    d = fm.browser()
    d.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": DOWNLOADS})
    try:
        run(d)
    finally:
        d.quit()
    print("webmail compose browser test: all steps passed", flush=True)


def run(d):
    step("log in and open the message")
    d.get(BASE + "/")
    d.find_element(By.ID, "address").send_keys(USER)
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.ID, "login-submit").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "folder-name"))
    for _ in range(60):
        if d.find_elements(By.LINK_TEXT, "Lunch on Friday"):
            break
        time.sleep(0.5)
        d.refresh()
    d.find_element(By.LINK_TEXT, "Lunch on Friday").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "reply"))

    step("reply and send")
    d.find_element(By.ID, "reply").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "send"))
    assert d.find_element(By.ID, "to").get_attribute("value") == OTHER
    assert d.find_element(By.ID, "subject").get_attribute("value") == "Re: Lunch on Friday"
    body = d.find_element(By.ID, "body")
    body.click()
    body.send_keys("Noon is fine.")
    d.find_element(By.ID, "send").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "compose-notice"))
    assert "sent" in d.find_element(By.ID, "compose-notice").text

    step("the reply is in the other user's INBOX over IMAP")
    got = until("the reply", lambda: messages(OTHER, OTHER_PASSWORD, "INBOX",
                                               'SUBJECT "Re: Lunch on Friday"'))
    reply = got[0][1]
    assert reply["In-Reply-To"].strip() == "<lunch-1@mx.test>", reply["In-Reply-To"]
    assert "Noon is fine." in reply.get_payload(decode=True).decode()

    step("a draft typed in the browser is saved into Drafts")
    d.get(BASE + "/compose")
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "subject"))
    d.find_element(By.ID, "to").send_keys(OTHER)
    d.find_element(By.ID, "subject").send_keys("Draft about the budget")
    d.find_element(By.ID, "body").send_keys("first thoughts")
    fm.wait(d, 40).until(lambda d: "Draft saved" in d.find_element(By.ID, "autosave-status").text)
    d.find_element(By.ID, "body").send_keys(", and more")
    def saved_once(_):
        drafts = messages(USER, PASSWORD, "Drafts")
        return len(drafts) == 1 and "and more" in str(drafts[0][1].get_payload(decode=True))
    fm.wait(d, 40).until(saved_once)
    drafts = messages(USER, PASSWORD, "Drafts")
    assert len(drafts) == 1, "the draft was replaced, not added"
    assert "\\Draft" in drafts[0][0], drafts[0][0]
    assert drafts[0][1]["Subject"] == "Draft about the budget"

    step("at 375 px the compose page fits")
    d.set_window_size(375, 800)
    fits(d)
    d.set_window_size(1280, 900)

    step("attach 5 MiB, send to oneself, download it again: the same bytes")
    payload = os.urandom(5 * 1024 * 1024)
    digest = hashlib.sha256(payload).hexdigest()
    src = tempfile.mkdtemp()
    path = os.path.join(src, "big file.bin")
    with open(path, "wb") as f:
        f.write(payload)
    d.get(BASE + "/compose")
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "files"))
    d.find_element(By.ID, "to").send_keys(USER)
    d.find_element(By.ID, "subject").send_keys("The big file")
    d.find_element(By.ID, "files").send_keys(path)
    fm.wait(d, 120).until(lambda d: "attached" in d.find_element(By.ID, "upload-status").text)
    assert "big file.bin" in d.find_element(By.ID, "attachments").text
    d.find_element(By.ID, "send").click()
    fm.wait(d, 60).until(lambda d: d.find_elements(By.ID, "compose-notice"))
    d.get(BASE + "/mail")
    for _ in range(60):
        if d.find_elements(By.LINK_TEXT, "The big file"):
            break
        time.sleep(0.5)
        d.refresh()
    d.find_element(By.LINK_TEXT, "The big file").click()
    fm.wait(d).until(lambda d: d.find_elements(By.LINK_TEXT, "big file.bin"))
    d.find_element(By.LINK_TEXT, "big file.bin").click()
    target = os.path.join(DOWNLOADS, "big file.bin")
    until("the download", lambda: os.path.exists(target) and os.path.getsize(target) == len(payload),
          tries=240, pause=0.25)
    with open(target, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == digest, "the downloaded file differs"


if __name__ == "__main__":
    main()
