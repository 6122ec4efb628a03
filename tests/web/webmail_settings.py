"""Webmail settings and folder management in headless Chromium, against a running server
(started by tests/web_browser.rs, which passes its addresses in the environment):

 1. log in at /, follow "Settings" from the folder tree;
 2. set a display name, a signature with macros and a time zone; after saving, the page
    shows them again and a bad zone is refused with a message;
 3. follow "Folders", create a folder, then one under it, rename the child;
 4. the folder tree of the mailbox shows the renamed folder;
 5. at 375 px wide neither page scrolls sideways; every form control has a label.

Every wait is bounded; any failure raises, and the exit status is non-zero."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fm  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

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
    """Every visible input, select and textarea has a <label for> or an aria-label."""
    for el in d.find_elements(By.CSS_SELECTOR, "input, select, textarea"):
        if el.get_attribute("type") == "hidden" or el.get_attribute("hidden") is not None:
            continue
        ident = el.get_attribute("id")
        ok = el.get_attribute("aria-label") or (
            ident and d.find_elements(By.CSS_SELECTOR, f"label[for='{ident}']"))
        assert ok, f"{d.current_url}: an unlabelled control {el.get_attribute('outerHTML')}"


def submit(d, button):
    """Clicks a form's button and waits for the page it answers (the old one gone)."""
    fm.submit_and_wait(d, button)


def flash(d):
    return fm.wait(d).until(lambda d: d.find_element(By.ID, "flash")).text


def main():
    d = fm.browser()
    try:
        run(d)
    finally:
        d.quit()
    print("webmail settings browser test: all steps passed", flush=True)


def run(d):
    step("log in at / and open the settings from the folder tree")
    d.get(BASE + "/")
    d.find_element(By.ID, "address").send_keys(USER)
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.ID, "login-submit").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "folder-name"))
    d.find_element(By.ID, "settings-link").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "prefs-save"))
    labelled(d)

    step("set a display name, a signature and a time zone")
    name = d.find_element(By.ID, "display_name")
    name.clear()
    name.send_keys("Post Master")
    sig = d.find_element(By.ID, "signature")
    sig.clear()
    sig.send_keys("-- \n$NAME$ <$EMAIL$>")
    zone = d.find_element(By.ID, "time_zone")
    zone.clear()
    zone.send_keys("Europe/Paris")
    submit(d, d.find_element(By.ID, "prefs-save"))
    assert flash(d) == "Settings saved.", flash(d)
    assert d.find_element(By.ID, "display_name").get_attribute("value") == "Post Master"
    assert d.find_element(By.ID, "time_zone").get_attribute("value") == "Europe/Paris"
    assert d.find_element(By.ID, "signature").get_attribute("value") == "-- \n$NAME$ <$EMAIL$>"

    step("a time zone that does not exist is refused")
    zone = d.find_element(By.ID, "time_zone")
    zone.clear()
    zone.send_keys("Mars/Olympus")
    submit(d, d.find_element(By.ID, "prefs-save"))
    assert "not an IANA time zone" in flash(d), flash(d)
    assert d.find_element(By.ID, "time_zone").get_attribute("value") == "Europe/Paris"

    step("create a folder, then one under it, and rename the child")
    d.get(BASE + "/folders")
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "create-submit"))
    labelled(d)
    d.find_element(By.ID, "create-name").send_keys("Projects")
    submit(d, d.find_element(By.ID, "create-submit"))
    assert flash(d) == "Folder Projects created.", flash(d)
    Select(d.find_element(By.ID, "create-parent")).select_by_visible_text("Projects")
    d.find_element(By.ID, "create-name").send_keys("Ferry")
    submit(d, d.find_element(By.ID, "create-submit"))
    assert flash(d) == "Folder Projects/Ferry created.", flash(d)
    row = d.find_element(By.CSS_SELECTOR, "li[data-name='Projects/Ferry']")
    field = row.find_element(By.CSS_SELECTOR, "input[name='name']")
    field.clear()
    field.send_keys("Projects/Boat")
    submit(d, row.find_element(By.CSS_SELECTOR, "button[aria-label='Rename Projects/Ferry']"))
    assert flash(d) == "Folder Projects/Ferry renamed to Projects/Boat.", flash(d)
    assert d.find_elements(By.CSS_SELECTOR, "li[data-name='Projects/Boat']")
    assert not d.find_elements(By.CSS_SELECTOR, "li[data-name='Projects/Ferry']")

    step("the mailbox's folder tree shows it")
    d.get(BASE + "/mail")
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "folder-name"))
    tree = d.find_element(By.CSS_SELECTOR, "nav.folders").text
    assert "Boat" in tree and "Projects" in tree and "Ferry" not in tree, tree

    step("at 375 px wide, the settings and folders pages fit")
    d.set_window_size(375, 800)
    for path, ready in (("/settings", "prefs-save"), ("/folders", "create-submit")):
        d.get(BASE + path)
        fm.wait(d).until(lambda d: d.find_elements(By.ID, ready))
        fits(d)


if __name__ == "__main__":
    main()
