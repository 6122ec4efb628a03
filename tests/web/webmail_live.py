"""Webmail's live list and bulk actions in headless Chromium, against a running server
(started by tests/web_browser.rs::webmail_live_in_headless_chromium, which passes its
addresses in the environment):

 1. two messages arrive over SMTP; a folder "Projects" is created over IMAP;
 2. log in at / and stay on the INBOX list;
 3. a third message sent over SMTP appears at the top of the open list without a reload;
 4. \\Flagged set over IMAP (UID STORE) shows on its row in the open list;
 5. select all toggles every row's checkbox;
 6. two messages selected and moved to Projects: gone from the list, in Projects over IMAP.

"Without a reload" is checked with a marker set on the page's window, which a reload
would lose. Every wait is bounded; any failure raises, and the exit status is non-zero."""

import imaplib
import os
import smtplib
import sys
import time
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fm  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

BASE = os.environ["FM_BASE"].rstrip("/")
USER = os.environ["FM_USER"]
PASSWORD = os.environ["FM_PASSWORD"]
SMTP = os.environ["FM_SMTP"]
IMAP = os.environ["FM_IMAP"]


def step(text):
    print(f"-- {text}", flush=True)


def send(subject):
    msg = EmailMessage()
    msg["From"] = "Dana Live <dana@sender.test>"
    msg["To"] = USER
    msg["Subject"] = subject
    msg.set_content("live update test\n")
    host, port = SMTP.rsplit(":", 1)
    with smtplib.SMTP(host, int(port), timeout=60) as s:
        s.ehlo("client.test")
        s.send_message(msg)


def imap():
    host, port = IMAP.rsplit(":", 1)
    c = imaplib.IMAP4(host, int(port), timeout=60)
    c.login(USER, PASSWORD)
    return c


def uid_of(c, subject, folder="INBOX"):
    """The UID of the message with `subject` in `folder` (waits, bounded, for delivery)."""
    for _ in range(120):
        c.select(folder)
        typ, data = c.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
        assert typ == "OK", data
        if data[0].split():
            return data[0].split()[-1].decode()
        time.sleep(0.25)
    raise AssertionError(f"{subject!r} never arrived in {folder}")


def count(c, folder):
    typ, data = c.select(folder)
    assert typ == "OK", data
    return int(data[0])


def row(d, subject):
    return d.find_element(By.LINK_TEXT, subject).find_element(By.XPATH, "ancestor::tr")


def still_same_page(d):
    assert d.execute_script("return window.fmLiveMarker === 42"), "the page was reloaded"


def main():
    c = imap()
    try:
        step("two messages over SMTP; a folder Projects over IMAP")
        send("Live A")
        send("Live B")
        uid_a = uid_of(c, "Live A")
        uid_of(c, "Live B")
        typ, data = c.create("Projects")
        assert typ == "OK", data
        d = fm.browser()
        try:
            run(d, c, uid_a)
        finally:
            d.quit()
    finally:
        c.logout()
    print("webmail live browser test: all steps passed", flush=True)


def run(d, c, uid_a):
    step("log in at /; the INBOX list")
    d.get(BASE + "/")
    d.find_element(By.ID, "address").send_keys(USER)
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.ID, "login-submit").click()
    fm.wait(d).until(lambda d: d.find_elements(By.LINK_TEXT, "Live B"))
    d.execute_script("window.fmLiveMarker = 42")
    # mail-live.js marks the stream open (its EventSource's open event).
    fm.wait(d).until(lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "open")
    inbox_link = d.find_element(By.CSS_SELECTOR, "nav.folders a[aria-current=page]")
    before = int(inbox_link.find_element(By.CLASS_NAME, "unread").text)

    step("a message sent over SMTP appears in the open list without a reload")
    send("Live C")
    fm.wait(d, 60).until(lambda d: d.find_elements(By.LINK_TEXT, "Live C"))
    still_same_page(d)
    first = d.find_element(By.CSS_SELECTOR, "#messages tbody tr")
    assert "Live C" in first.text, first.text
    assert "unseen" in first.get_attribute("class"), first.get_attribute("class")
    assert "Dana Live" in first.text, first.text
    fm.wait(d).until(
        lambda d: inbox_link.find_element(By.CLASS_NAME, "unread").text == str(before + 1))

    step("\\Flagged set over IMAP shows in the open list")
    assert not row(d, "Live A").find_elements(By.CSS_SELECTOR, ".badge.flagged")
    c.select("INBOX")
    typ, data = c.uid("STORE", uid_a, "+FLAGS", "(\\Flagged)")
    assert typ == "OK", data
    fm.wait(d).until(lambda d: row(d, "Live A").find_elements(By.CSS_SELECTOR, ".badge.flagged"))
    assert row(d, "Live A").find_elements(By.CSS_SELECTOR, "button[value=unflag]")
    still_same_page(d)

    step("select all on the page toggles every row")
    boxes = d.find_elements(By.CSS_SELECTOR, "#messages tbody input[name=uid]")
    assert len(boxes) == 3, len(boxes)
    every = d.find_element(By.ID, "select-all")
    assert every.is_displayed()
    every.click()
    assert all(b.is_selected() for b in boxes)
    every.click()
    assert not any(b.is_selected() for b in boxes)

    step("select two messages and move them to Projects")
    for subject in ("Live A", "Live B"):
        box = row(d, subject).find_element(By.CSS_SELECTOR, "input[name=uid]")
        box.click()
        assert box.is_selected()
    Select(d.find_element(By.ID, "bulk-action")).select_by_value("move")
    Select(d.find_element(By.ID, "bulk-target")).select_by_visible_text("Projects")
    d.find_element(By.ID, "bulk-apply").click()
    fm.wait(d).until(lambda d: not d.find_elements(By.LINK_TEXT, "Live A"))
    assert not d.find_elements(By.LINK_TEXT, "Live B")
    assert d.find_elements(By.LINK_TEXT, "Live C")
    assert count(c, "Projects") == 2
    assert count(c, "INBOX") == 1


if __name__ == "__main__":
    main()
