"""Webmail's "Remember this device" in headless Chromium, against a running server
(started by tests/web_browser.rs, which passes its addresses in the environment):

 1. log in at /, turn two-factor login on in Settings (QR secret, a code);
 2. log out, log in with the password: the code step shows "Remember this device"; tick
    it and give a code;
 3. log out, log in again with only the password: straight to the mailbox;
 4. Settings → Remembered devices lists this browser; "Forget" it;
 5. log out, log in with the password: the code step is back;
 6. at 375 px wide the devices page does not scroll sideways; every control is labelled.

Every wait is bounded; any failure raises, and the exit status is non-zero."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fm  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

BASE = os.environ["FM_BASE"].rstrip("/")
USER = os.environ["FM_USER"]
PASSWORD = os.environ["FM_PASSWORD"]


def step(text):
    print(f"-- {text}", flush=True)


def fits(d):
    inner, scroll = d.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]")
    assert scroll <= inner, f"{d.current_url}: {scroll} px wide in a {inner} px window"


def labelled(d):
    """Every visible control has a <label for> or an aria-label."""
    for el in d.find_elements(By.CSS_SELECTOR, "input, select, textarea, button"):
        if el.get_attribute("type") == "hidden" or el.get_attribute("hidden") is not None:
            continue
        if el.tag_name == "button":
            assert el.text.strip() or el.get_attribute("aria-label"), el.get_attribute("outerHTML")
            continue
        ident = el.get_attribute("id")
        ok = el.get_attribute("aria-label") or (
            ident and d.find_elements(By.CSS_SELECTOR, f"label[for='{ident}']"))
        assert ok, f"{d.current_url}: an unlabelled control {el.get_attribute('outerHTML')}"


def password_step(d):
    d.get(BASE + "/")
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "login-submit"))
    d.find_element(By.ID, "address").send_keys(USER)
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    fm.submit_and_wait(d, d.find_element(By.ID, "login-submit"))


def log_out(d):
    fm.submit_and_wait(d, d.find_element(By.ID, "logout"))
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "login-submit"))


def in_mailbox(d):
    return fm.wait(d).until(lambda d: d.find_elements(By.ID, "folder-name"))


def main():
    d = fm.browser()
    try:
        run(d)
    finally:
        d.quit()
    print("webmail remember-device browser test: all steps passed", flush=True)


def run(d):
    step("log in and turn two-factor login on in Settings")
    password_step(d)
    in_mailbox(d)
    d.get(BASE + "/settings")
    fm.submit_and_wait(d, d.find_element(By.ID, "totp-begin"))
    secret = d.find_element(By.ID, "totp-secret").text.strip()
    code, _ = fm.totp(secret)
    d.find_element(By.ID, "totp-code").send_keys(code)
    fm.submit_and_wait(d, d.find_element(By.ID, "totp-confirm"))
    fm.wait(d).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#recovery-codes li"))

    step("log out; the code step offers 'Remember this device': tick it")
    d.get(BASE + "/mail")
    in_mailbox(d)
    log_out(d)
    password_step(d)
    assert d.current_url.endswith("/login/code"), d.current_url
    labelled(d)
    box = d.find_element(By.ID, "remember")
    assert not box.is_selected()
    # A code is good once: the next time step's (one step of drift is accepted) is never
    # the enrolment's.
    code, _ = fm.totp(secret, at=time.time() + 30)
    d.find_element(By.ID, "code").send_keys(code)
    box.click()
    fm.submit_and_wait(d, d.find_element(By.ID, "code-submit"))
    in_mailbox(d)
    names = [c["name"] for c in d.get_cookies()]
    assert "fm_device" in names, names

    step("log out and in again: the password alone opens the mailbox")
    log_out(d)
    password_step(d)
    in_mailbox(d)
    assert "/login/code" not in d.current_url, d.current_url

    step("Settings lists this browser; forget it")
    d.get(BASE + "/settings")
    fm.submit_and_wait(d, d.find_element(By.ID, "devices-link"))
    table = fm.wait(d).until(lambda d: d.find_elements(By.ID, "devices"))[0]
    assert "(this browser)" in table.text and "Chrome" in table.text, table.text
    labelled(d)
    d.set_window_size(375, 800)
    fits(d)
    d.set_window_size(1280, 900)
    forget = d.find_element(By.CSS_SELECTOR, "button.forget")
    fm.submit_and_wait(d, forget)
    flash = fm.wait(d).until(lambda d: d.find_element(By.ID, "flash")).text
    assert flash == "Device forgotten.", flash
    assert d.find_elements(By.ID, "devices-none")
    names = [c["name"] for c in d.get_cookies()]
    assert "fm_device" not in names, names

    step("log out and in: the code step is back")
    d.get(BASE + "/mail")
    in_mailbox(d)
    log_out(d)
    password_step(d)
    assert d.current_url.endswith("/login/code"), d.current_url
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "code"))


if __name__ == "__main__":
    main()
