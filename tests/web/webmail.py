"""Webmail in headless Chromium, against a running server (started by
tests/web_browser.rs, which passes its addresses in the environment):

 1. a message with an HTML part carrying scripts and a 5 MiB attachment is sent over SMTP;
 2. log in at / with the account's password;
 3. the message appears in the INBOX list (unread), and opens in the reader;
 4. the HTML part shows in its sandboxed frame with no script element and no alert;
 5. the attachment downloads and is byte-identical to what was sent;
 6. flag it from the reader; the list shows it flagged and read;
 7. at 375 px wide, neither the list nor the reader scrolls sideways; log out.

Every wait is bounded; any failure raises, and the exit status is non-zero."""

import hashlib
import os
import smtplib
import sys
import time
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fm  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

BASE = os.environ["FM_BASE"].rstrip("/")
USER = os.environ["FM_USER"]
PASSWORD = os.environ["FM_PASSWORD"]
SMTP = os.environ["FM_SMTP"]
DOWNLOADS = os.environ["FM_DOWNLOADS"]
SUBJECT = "Quarterly figures <b>bold</b>"
ATTACHMENT = "figures 2026.bin"


def step(text):
    print(f"-- {text}", flush=True)


def no_alert(d):
    try:
        text = d.switch_to.alert.text
    except NoAlertPresentException:
        return
    raise AssertionError(f"a script ran: alert {text!r}")


def fits(d):
    inner, scroll = d.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]")
    assert scroll <= inner, f"{d.current_url}: {scroll} px wide in a {inner} px window"


def send(payload):
    msg = EmailMessage()
    msg["From"] = "Carol Sender <carol@sender.test>"
    msg["To"] = USER
    msg["Subject"] = SUBJECT
    msg.set_content("Hello in plain text, see https://example.test/report.\n")
    msg.add_alternative(
        "<p id='hello'>Hello from HTML</p><script>alert('body')</script>"
        "<img src='x' onerror=\"alert('img')\"><img src='https://tracker.invalid/p.gif'>"
        "<a href=\"javascript:alert('link')\">click</a>",
        subtype="html",
    )
    msg.add_attachment(payload, maintype="application", subtype="octet-stream",
                       filename=ATTACHMENT)
    host, port = SMTP.rsplit(":", 1)
    with smtplib.SMTP(host, int(port), timeout=60) as s:
        s.ehlo("client.test")
        s.send_message(msg)


def main():
    payload = os.urandom(5 * 1024 * 1024)
    step("send a message with a 5 MiB attachment over SMTP")
    send(payload)
    d = fm.browser()
    d.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": DOWNLOADS})
    try:
        run(d, hashlib.sha256(payload).hexdigest(), len(payload))
    finally:
        d.quit()
    print("webmail browser test: all steps passed", flush=True)


def run(d, digest, size):
    step("log in at /")
    d.get(BASE + "/")
    d.find_element(By.ID, "address").send_keys(USER)
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.ID, "login-submit").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "folder-name"))
    assert d.find_element(By.ID, "folder-name").text == "INBOX"

    step("the message delivered over SMTP is in the list, unread")
    for _ in range(60):
        if SUBJECT in d.page_source.replace("&lt;", "<").replace("&gt;", ">"):
            break
        time.sleep(0.5)
        d.refresh()
    link = d.find_element(By.LINK_TEXT, SUBJECT)
    row = link.find_element(By.XPATH, "ancestor::tr")
    assert "unseen" in row.get_attribute("class"), row.get_attribute("class")
    assert "Carol Sender" in row.text, row.text

    step("open it: headers, and the HTML in its sandboxed frame without scripts")
    link.click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "subject"))
    assert d.find_element(By.ID, "subject").text == SUBJECT
    frame = d.find_element(By.ID, "body-frame")
    assert frame.get_attribute("sandbox") == "allow-popups allow-popups-to-escape-sandbox"
    d.switch_to.frame(frame)
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "hello") or "Hello from HTML" in d.page_source)
    assert not d.find_elements(By.TAG_NAME, "script"), d.page_source
    assert "javascript:" not in d.page_source and "tracker.invalid" not in d.page_source
    d.switch_to.default_content()
    no_alert(d)
    assert d.execute_script("return document.scripts.length") == 0

    step("download the 5 MiB attachment: the same bytes")
    d.find_element(By.LINK_TEXT, ATTACHMENT).click()
    target = os.path.join(DOWNLOADS, ATTACHMENT)
    for _ in range(240):
        if os.path.exists(target) and os.path.getsize(target) == size:
            break
        time.sleep(0.25)
    assert os.path.exists(target), os.listdir(DOWNLOADS)
    with open(target, "rb") as f:
        got = hashlib.sha256(f.read()).hexdigest()
    assert got == digest, "the downloaded attachment differs"

    step("flag it; the list shows it read and flagged")
    d.find_element(By.ID, "flag").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "unflag"))
    d.find_element(By.ID, "back").click()
    row = fm.wait(d).until(lambda d: d.find_element(By.LINK_TEXT, SUBJECT)).find_element(
        By.XPATH, "ancestor::tr")
    assert "seen" == row.get_attribute("class").strip(), row.get_attribute("class")
    assert row.find_elements(By.CSS_SELECTOR, ".badge.flagged")

    step("at 375 px wide, the list and the reader fit without sideways scrolling")
    d.set_window_size(375, 800)
    d.refresh()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "messages"))
    fits(d)
    d.find_element(By.LINK_TEXT, SUBJECT).click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "subject"))
    fits(d)

    step("log out")
    d.find_element(By.ID, "logout").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "login-submit"))
    d.get(BASE + "/mail")
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "login-submit"))
    no_alert(d)


if __name__ == "__main__":
    main()
