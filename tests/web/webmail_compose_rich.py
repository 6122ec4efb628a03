"""Webmail rich-text compose in headless Chromium, against a running server (started by
tests/web_browser.rs::webmail_compose_rich_in_headless_chromium, which passes its addresses):

 1. log in; open a new message; switch to rich text (the switch and the toolbar are
    reached with the keyboard); type bold text with Ctrl+B, a bulleted list from the
    toolbar, and send it to the other user;
 2. over IMAP the other user's message is multipart/alternative: a text/plain part with
    the text (the list as "- ") and a text/html part with the <b> and the <li>;
 3. a new compose opens in rich mode again (the choice is remembered);
 4. at 375 px wide the rich compose page does not scroll sideways.

Every wait is bounded; any failure raises, and the exit status is non-zero."""

import email
import imaplib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fm  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402

BASE = os.environ["FM_BASE"].rstrip("/")
USER = os.environ["FM_USER"]
PASSWORD = os.environ["FM_PASSWORD"]
OTHER = os.environ["FM_OTHER"]
OTHER_PASSWORD = os.environ["FM_OTHER_PASSWORD"]
IMAP = os.environ["FM_IMAP"]


def step(text):
    print(f"-- {text}", flush=True)


def fetch(subject):
    """The other user's message with `subject`, or None."""
    host, port = IMAP.rsplit(":", 1)
    c = imaplib.IMAP4(host, int(port), timeout=60)
    c.login(OTHER, OTHER_PASSWORD)
    try:
        c.select("INBOX", readonly=True)
        _, data = c.uid("SEARCH", None, f'SUBJECT "{subject}"')
        uids = data[0].split()
        if not uids:
            return None
        _, parts = c.uid("FETCH", uids[0], "(BODY.PEEK[])")
        return email.message_from_bytes(parts[0][1])
    finally:
        c.logout()


def until(what, check, tries=120, pause=0.5):
    for _ in range(tries):
        got = check()
        if got:
            return got
        time.sleep(pause)
    raise AssertionError(f"gave up waiting: {what}")


def main():
    d = fm.browser()
    try:
        run(d)
    finally:
        d.quit()
    print("webmail rich compose browser test: all steps passed", flush=True)


def run(d):
    step("log in and open a new message")
    d.get(BASE + "/")
    d.find_element(By.ID, "address").send_keys(USER)
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.ID, "login-submit").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "folder-name"))
    d.get(BASE + "/compose")
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "rich-toggle"))
    assert not d.find_element(By.ID, "rich-editor").is_displayed(), "plain by default"

    step("switch to rich text with the keyboard")
    d.find_element(By.ID, "subject").send_keys("Rich hello")
    d.find_element(By.ID, "to").send_keys(OTHER)
    toggle = d.find_element(By.ID, "rich-toggle")
    d.execute_script("arguments[0].focus()", toggle)
    ActionChains(d).send_keys(Keys.SPACE).perform()
    fm.wait(d).until(lambda d: d.find_element(By.ID, "rich-editor").is_displayed())
    assert not d.find_element(By.ID, "body").is_displayed()
    # Every toolbar button has a name a screen reader reads.
    for b in d.find_elements(By.CSS_SELECTOR, ".rich-toolbar button"):
        assert b.get_attribute("aria-label"), b.get_attribute("outerHTML")

    step("type bold text and a bulleted list")
    editor = d.find_element(By.ID, "rich-editor")
    editor.click()
    d.execute_script(
        "var e = arguments[0]; e.innerHTML = ''; e.focus();"
        "var r = document.createRange(); r.setStart(e, 0); r.collapse(true);"
        "var s = window.getSelection(); s.removeAllRanges(); s.addRange(r);", editor)
    ActionChains(d).key_down(Keys.CONTROL).send_keys("b").key_up(Keys.CONTROL).perform()
    editor.send_keys("Strong words")
    ActionChains(d).key_down(Keys.CONTROL).send_keys("b").key_up(Keys.CONTROL).perform()
    editor.send_keys(" and plain ones", Keys.ENTER)
    # The toolbar's list button, pressed from the keyboard.
    button = d.find_element(By.CSS_SELECTOR, '.rich-toolbar button[data-command="bulleted-list"]')
    d.execute_script("arguments[0].focus()", button)
    ActionChains(d).send_keys(Keys.ENTER).perform()
    editor.send_keys("first item", Keys.ENTER, "second item")
    html = editor.get_attribute("innerHTML")
    assert "<b>Strong words</b>" in html, html
    assert "<li>first item</li>" in html, html

    step("send")
    d.find_element(By.ID, "send").click()
    fm.wait(d, 60).until(lambda d: d.find_elements(By.ID, "compose-notice"))
    assert "sent" in d.find_element(By.ID, "compose-notice").text

    step("the receiver gets multipart/alternative over IMAP")
    m = until("the rich message", lambda: fetch("Rich hello"))
    assert m.get_content_type() == "multipart/alternative", m.get_content_type()
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in m.get_payload()}
    plain, html = parts["text/plain"], parts["text/html"]
    assert "Strong words and plain ones" in plain, plain
    assert "- first item" in plain and "- second item" in plain, plain
    assert "<b>Strong words</b>" in html, html
    assert "<li>first item</li>" in html and "<ul>" in html, html

    step("a new compose opens in rich mode again")
    d.get(BASE + "/compose")
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "rich-toggle"))
    assert d.find_element(By.ID, "rich-toggle").is_selected()
    assert d.find_element(By.ID, "rich-editor").is_displayed()

    step("at 375 px the rich compose page fits")
    d.set_window_size(375, 800)
    inner, scroll = d.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]")
    assert scroll <= inner, f"{scroll} px wide in a {inner} px window"


if __name__ == "__main__":
    main()
