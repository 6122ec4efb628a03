"""Webmail Snooze in headless Chromium, against a running server (started by
tests/web_browser.rs, which passes its addresses in the environment):

 1. a message sent over SMTP is opened in the reader and snoozed until next week with
    the reader's control: it leaves INBOX;
 2. the Snoozed folder (made on first use, in the folder tree) lists it with its wake
    time; "Wake now" brings it back to INBOX, unread;
 3. the list's bulk form snoozes it until a date and time typed in the form;
 4. at 375 px wide the list and the reader fit; every control has a label.

Every wait is bounded; any failure raises, and the exit status is non-zero."""

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
SUBJECT = "Renew the ferry pass"


def step(text):
    print(f"-- {text}", flush=True)


def fits(d):
    inner, scroll = d.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]")
    assert scroll <= inner, f"{d.current_url}: {scroll} px wide in a {inner} px window"


def labelled(d):
    """Every control of the Snooze forms has a <label for> or an aria-label."""
    controls = d.find_elements(By.CSS_SELECTOR, ".snooze input, .snooze select, "
                                                ".snooze-bulk input, .snooze-bulk select")
    assert controls, f"{d.current_url}: no Snooze control"
    for el in controls:
        if el.get_attribute("type") == "hidden" or el.get_attribute("hidden") is not None:
            continue
        ident = el.get_attribute("id")
        ok = el.get_attribute("aria-label") or (
            ident and d.find_elements(By.CSS_SELECTOR, f"label[for='{ident}']"))
        assert ok, f"{d.current_url}: an unlabelled control {el.get_attribute('outerHTML')}"


def send():
    msg = EmailMessage()
    msg["From"] = "Ferry office <office@ferry.test>"
    msg["To"] = USER
    msg["Subject"] = SUBJECT
    msg.set_content("Your pass expires soon.\n")
    host, port = SMTP.rsplit(":", 1)
    with smtplib.SMTP(host, int(port), timeout=60) as s:
        s.ehlo("client.test")
        s.send_message(msg)


def open_folder(d, name):
    # The link's text ends with the unread count when there is one.
    link = d.find_element(By.CSS_SELECTOR, "nav.folders").find_element(
        By.PARTIAL_LINK_TEXT, name)
    fm.submit_and_wait(d, link)


def main():
    step("send a message over SMTP")
    send()
    d = fm.browser()
    try:
        run(d)
    finally:
        d.quit()
    print("webmail snooze browser test: all steps passed", flush=True)


def run(d):
    step("log in and open the message")
    d.get(BASE + "/")
    d.find_element(By.ID, "address").send_keys(USER)
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.ID, "login-submit").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "folder-name"))
    for _ in range(60):
        if d.find_elements(By.LINK_TEXT, SUBJECT):
            break
        time.sleep(0.5)
        d.refresh()
    inbox_url = d.current_url
    d.find_element(By.LINK_TEXT, SUBJECT).click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "snooze"))
    labelled(d)

    step("snooze it until next week from the reader: it leaves INBOX")
    Select(d.find_element(By.ID, "snooze-when")).select_by_visible_text("Next week")
    fm.submit_and_wait(d, d.find_element(By.ID, "snooze"))
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "folder-name"))
    assert not d.find_elements(By.LINK_TEXT, SUBJECT), "still in INBOX"

    step("the Snoozed folder lists it with its wake time; Wake now brings it back")
    open_folder(d, "Snoozed")
    assert d.find_element(By.ID, "folder-name").text == "Snoozed"
    row = d.find_element(By.LINK_TEXT, SUBJECT).find_element(By.XPATH, "./ancestor::tr")
    assert "Wakes " in row.text, row.text
    labelled(d)
    fm.submit_and_wait(d, row.find_element(By.CSS_SELECTOR, "button[id^='wake-']"))
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "folder-name"))
    assert not d.find_elements(By.LINK_TEXT, SUBJECT), "still in Snoozed"
    d.get(inbox_url)
    row = fm.wait(d).until(lambda d: d.find_element(By.LINK_TEXT, SUBJECT)).find_element(
        By.XPATH, "./ancestor::tr")
    assert "unseen" in row.get_attribute("class"), row.get_attribute("class")

    step("the list's bulk form snoozes it until a date and time typed in")
    row.find_element(By.CSS_SELECTOR, "input[name='uid']").click()
    Select(d.find_element(By.ID, "bulk-snooze-when")).select_by_visible_text(
        "The date and time below")
    # A date far ahead, typed as the browser's datetime-local control takes it: set
    # through the element's value (its keyboard layout depends on the browser's locale).
    field = d.find_element(By.ID, "bulk-snooze-at")
    d.execute_script("arguments[0].value = '2099-05-01T09:15'", field)
    fm.submit_and_wait(d, d.find_element(By.ID, "bulk-snooze"))
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "folder-name"))
    assert not d.find_elements(By.LINK_TEXT, SUBJECT), "still in INBOX"
    open_folder(d, "Snoozed")
    row = d.find_element(By.LINK_TEXT, SUBJECT).find_element(By.XPATH, "./ancestor::tr")
    assert "Wakes 2099-05-01 09:15" in row.text, row.text

    step("at 375 px wide, the list and the reader fit")
    d.set_window_size(375, 800)
    fits(d)
    d.find_element(By.LINK_TEXT, SUBJECT).click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "snooze"))
    fits(d)


if __name__ == "__main__":
    main()
