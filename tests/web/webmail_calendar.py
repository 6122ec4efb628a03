"""Webmail calendar and contacts in headless Chromium, against a running server (started
by tests/web_browser.rs, which passes its addresses in the environment):

 1. log in, follow "Calendar" from the header: the month view marks today;
 2. "New event" (today, 09:00-10:00 by default): give it a title and save; the month
    view shows it in today's cell, and its form opens from there;
 3. follow "Contacts", make a contact with an address; the list shows it and a search
    finds it;
 4. in compose, typing part of the name in To fills the datalist with the contact's
    address (suggest.js asking /contacts/suggest);
 5. at 375 px wide the calendar and contacts pages fit; every control has a label.

Every wait is bounded; any failure raises, and the exit status is non-zero."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fm  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

BASE = os.environ["FM_BASE"].rstrip("/")
USER = os.environ["FM_USER"]
PASSWORD = os.environ["FM_PASSWORD"]
TITLE = "Ferry launch party"


def step(text):
    print(f"-- {text}", flush=True)


def fits(d):
    inner, scroll = d.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]")
    assert scroll <= inner, f"{d.current_url}: {scroll} px wide in a {inner} px window"


def labelled(d):
    for el in d.find_elements(By.CSS_SELECTOR, "input, select, textarea"):
        if el.get_attribute("type") == "hidden" or el.get_attribute("hidden") is not None:
            continue
        ident = el.get_attribute("id")
        ok = el.get_attribute("aria-label") or (
            ident and d.find_elements(By.CSS_SELECTOR, f"label[for='{ident}']"))
        assert ok, f"{d.current_url}: an unlabelled control {el.get_attribute('outerHTML')}"


def flash(d):
    return fm.wait(d).until(lambda d: d.find_element(By.ID, "flash")).text


def main():
    d = fm.browser()
    try:
        run(d)
    finally:
        d.quit()
    print("webmail calendar browser test: all steps passed", flush=True)


def run(d):
    step("log in and open the calendar from the header")
    d.get(BASE + "/")
    d.find_element(By.ID, "address").send_keys(USER)
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.ID, "login-submit").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "calendar-link"))
    d.find_element(By.ID, "calendar-link").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "new-event"))
    today = d.find_element(By.CSS_SELECTOR, "td[aria-current='date']")
    day = today.get_attribute("data-date")
    assert TITLE not in today.text

    step("make an event today from the month view")
    d.find_element(By.ID, "new-event").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "event-save"))
    labelled(d)
    assert d.find_element(By.ID, "start_date").get_attribute("value") == day
    d.find_element(By.ID, "title").send_keys(TITLE)
    d.find_element(By.ID, "location").send_keys("Pier 3")
    fm.submit_and_wait(d, d.find_element(By.ID, "event-save"))
    assert flash(d) == f"Saved “{TITLE}”.", flash(d)
    d.find_element(By.ID, "view-month").click()
    fm.wait(d).until(lambda d: d.find_elements(By.CSS_SELECTOR, "td[aria-current='date']"))
    cell = d.find_element(By.CSS_SELECTOR, "td[aria-current='date']")
    assert TITLE in cell.text, cell.text
    assert "09:00" in cell.text, cell.text
    cell.find_element(By.PARTIAL_LINK_TEXT, TITLE).click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "event-delete"))
    assert d.find_element(By.ID, "title").get_attribute("value") == TITLE
    assert d.find_element(By.ID, "location").get_attribute("value") == "Pier 3"

    step("add a contact")
    d.find_element(By.ID, "contacts-link").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "new-contact"))
    d.find_element(By.ID, "new-contact").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "contact-save"))
    labelled(d)
    d.find_element(By.ID, "full_name").send_keys("Ada Lovelace")
    d.find_element(By.ID, "emails").send_keys("ada@engine.example")
    d.find_element(By.ID, "phones").send_keys("+44 20 7946 0000")
    fm.submit_and_wait(d, d.find_element(By.ID, "contact-save"))
    assert flash(d) == "Saved Ada Lovelace.", flash(d)
    listing = d.find_element(By.ID, "contact-list").text
    assert "Ada Lovelace" in listing and "ada@engine.example" in listing, listing
    d.find_element(By.ID, "contact-q").send_keys("7946")
    fm.submit_and_wait(d, d.find_element(By.ID, "contact-search"))
    assert "Ada Lovelace" in d.find_element(By.ID, "contact-list").text

    step("compose suggests the contact in To")
    d.find_element(By.ID, "compose-link").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "to"))
    d.find_element(By.ID, "to").send_keys("lovel")

    def suggested(drv):
        values = drv.execute_script(
            "return Array.from(document.querySelectorAll('#recent option'))"
            ".map(function (o) { return o.value; });")
        return [v for v in values if "ada@engine.example" in v]

    found = fm.wait(d).until(suggested)
    assert found == ["Ada Lovelace <ada@engine.example>"], found
    # A second address after a comma: the option completes the whole field.
    d.find_element(By.ID, "to").send_keys(", ada")
    found = fm.wait(d).until(
        lambda drv: [v for v in suggested(drv) if v.startswith("lovel, ")])
    assert found == ["lovel, Ada Lovelace <ada@engine.example>"], found

    step("at 375 px wide, the calendar and contacts fit")
    d.set_window_size(375, 800)
    for path, ready in (("/calendar", "new-event"), ("/calendar?view=week", "new-event"),
                        ("/contacts", "new-contact"), ("/calendar/event", "event-save")):
        d.get(BASE + path)
        fm.wait(d).until(lambda d: d.find_elements(By.ID, ready))
        fits(d)


if __name__ == "__main__":
    main()
