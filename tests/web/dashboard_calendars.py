"""The dashboard's Calendars page in headless Chromium, against a running server (started
by tests/web_browser.rs, which passes its addresses in the environment):

 1. log in as the postmaster and pick its account on the Calendars page: its default
    calendar, task list and address book are listed;
 2. create a calendar and an address book: each is listed with its kind;
 3. import an .ics file of three events into the new calendar: the upload leads to the
    import job's page, whose bar reaches its end live and whose result says three were
    stored; back on the Calendars page the calendar holds three objects;
 4. delete the address book and the calendar (each after the page's confirmation
    dialog): they are gone from the list, the default ones stay.

Every wait is bounded; any failure raises, and the exit status is non-zero."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fm  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

BASE = os.environ["FM_BASE"].rstrip("/")
ADMIN = os.environ["FM_ADMIN"]
PASSWORD = os.environ["FM_PASSWORD"]


def step(text):
    print(f"-- {text}", flush=True)


def text_of(d, element_id):
    return d.find_element(By.ID, element_id).text.strip()


def rows(d):
    """{name: [cells]} of the collections table."""
    out = {}
    for tr in d.find_elements(By.CSS_SELECTOR, "#calendars tbody tr"):
        cells = [td.text.strip() for td in tr.find_elements(By.TAG_NAME, "td")]
        out[cells[0]] = cells
    return out


def row(d, name):
    for tr in d.find_elements(By.CSS_SELECTOR, "#calendars tbody tr"):
        if tr.find_element(By.TAG_NAME, "td").text.strip() == name:
            return tr
    raise AssertionError(f"no row {name}: {list(rows(d))}")


def flash_ok(d):
    el = fm.wait(d).until(lambda d: d.find_elements(By.ID, "flash"))[0]
    assert "ok" in el.get_attribute("class").split(), el.text
    return el.text


def ics(n):
    events = "".join(
        "BEGIN:VEVENT\r\nUID:import-%d@example.test\r\nDTSTAMP:20270101T000000Z\r\n"
        "DTSTART:2027011%dT090000Z\r\nDTEND:2027011%dT100000Z\r\nSUMMARY:Imported %d\r\n"
        "END:VEVENT\r\n" % (i, i, i, i) for i in range(n))
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Browser test//EN\r\n"
            + events + "END:VCALENDAR\r\n")


def create(d, name, kind, display):
    d.find_element(By.ID, "calendar-new").send_keys(name)
    Select(d.find_element(By.ID, "calendar-kind")).select_by_value(kind)
    d.find_element(By.ID, "calendar-display").send_keys(display)
    fm.submit_and_wait(d, d.find_element(By.ID, "calendar-create"))
    flash_ok(d)


def delete(d, name):
    tr = row(d, name)
    tr.find_element(By.TAG_NAME, "summary").click()
    button = tr.find_element(By.CSS_SELECTOR, "form.confirm button.danger")
    d.execute_script("window.__fmOldPage = true;")
    button.click()
    alert = fm.wait(d).until(lambda d: d.switch_to.alert)
    assert name in alert.text, alert.text
    alert.accept()
    fm.wait(d).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && !window.__fmOldPage;"))
    flash_ok(d)


def main():
    d = fm.browser()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run(d, tmp)
    finally:
        d.quit()
    print("dashboard calendars browser test: all steps passed", flush=True)


def run(d, tmp):
    step("log in and pick the postmaster's account on the Calendars page")
    fm.login(d, BASE, ADMIN, PASSWORD)
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "overview"))
    d.get(BASE + "/calendars")
    d.find_element(By.ID, "calendar-owner").send_keys(ADMIN)
    fm.submit_and_wait(d, d.find_element(
        By.CSS_SELECTOR, "#calendar-owner-form button[type=submit]"))
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "calendars"))
    listed = rows(d)
    for name, kind in [("calendar", "calendar"), ("contacts", "addressbook")]:
        assert name in listed and listed[name][1] == kind, listed
    before = set(listed)

    step("create a calendar and an address book")
    create(d, "team", "calendar", "Team")
    create(d, "partners", "addressbook", "Partners")
    listed = rows(d)
    assert listed["team"][1] == "calendar" and listed["team"][3] == "Team", listed
    assert listed["partners"][1] == "addressbook", listed
    assert listed["team"][4] == "0", listed

    step("import an .ics of three events: the job's page shows progress and result")
    path = os.path.join(tmp, "three.ics")
    with open(path, "w", newline="") as f:
        f.write(ics(3))
    tr = row(d, "team")
    tr.find_element(By.TAG_NAME, "summary").click()
    tr.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(path)
    fm.submit_and_wait(d, tr.find_element(
        By.XPATH, ".//form[contains(@action, '/calendars/import')]//button"))
    fm.wait(d).until(lambda d: "/jobs/" in d.current_url)
    job = d.current_url.rsplit("/", 1)[1]
    assert d.find_elements(By.ID, f"job-{job}-bar"), "a progress bar"
    fm.wait(d, 60).until(lambda d: text_of(d, f"job-{job}-state") == "done")
    bar = d.find_element(By.ID, f"job-{job}-bar")
    value, top = bar.get_attribute("value"), bar.get_attribute("max")
    assert value is not None and float(value) == float(top), (value, top)
    result = fm.wait(d).until(lambda d: text_of(d, f"job-{job}-result"))
    assert f"imported into team of {ADMIN}: 3 stored (3 new" in result, result
    assert "0 invalid" in result, result
    d.get(BASE + "/calendars?owner=" + ADMIN)
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "calendars"))
    assert rows(d)["team"][4] == "3", rows(d)

    step("delete the address book and the calendar after confirming")
    delete(d, "partners")
    delete(d, "team")
    assert set(rows(d)) == before, (rows(d), before)


if __name__ == "__main__":
    main()
