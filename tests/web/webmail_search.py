"""Webmail's message list in headless Chromium: sort, search, conversations (started by
tests/web_browser.rs, which passes the server's addresses in the environment):

 1. three messages are sent over SMTP, two of them one conversation (References);
 2. log in; all three are listed;
 3. the Subject column header sorts by subject (aria-sort ascending), a second click
    turns it round;
 4. the search form finds one subject; a bad date is a message on the page;
 5. the conversation view shows two conversations, one of two messages; opening it
    lists both;
 6. at 375 px wide the list with its search form does not scroll sideways.

Every wait is bounded; any failure raises, and the exit status is non-zero."""

import os
import smtplib
import sys
import time
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fm  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

BASE = os.environ["FM_BASE"].rstrip("/")
USER = os.environ["FM_USER"]
PASSWORD = os.environ["FM_PASSWORD"]
SMTP = os.environ["FM_SMTP"]


def step(text):
    print(f"-- {text}", flush=True)


def send(subject, msgid, refs=None):
    msg = EmailMessage()
    msg["From"] = "Walter <walter@sender.test>"
    msg["To"] = USER
    msg["Subject"] = subject
    msg["Message-ID"] = msgid
    if refs:
        msg["In-Reply-To"] = refs
        msg["References"] = refs
    msg.set_content("hello\n")
    host, port = SMTP.rsplit(":", 1)
    with smtplib.SMTP(host, int(port), timeout=60) as s:
        s.ehlo("client.test")
        s.send_message(msg)


def subjects(d):
    return [a.text for a in d.find_elements(By.CSS_SELECTOR, "#messages td.subject a")]


def fits(d):
    inner, scroll = d.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]")
    assert scroll <= inner, f"{d.current_url}: {scroll} px wide in a {inner} px window"


def main():
    step("send three messages over SMTP, two in one conversation")
    send("Mango season", "<m1@sender.test>")
    send("Apple harvest", "<a1@sender.test>")
    send("Re: Mango season", "<m2@sender.test>", "<m1@sender.test>")
    d = fm.browser()
    try:
        run(d)
    finally:
        d.quit()
    print("webmail search browser test: all steps passed", flush=True)


def run(d):
    step("log in; the three messages are listed")
    d.get(BASE + "/")
    d.find_element(By.ID, "address").send_keys(USER)
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.ID, "login-submit").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "folder-name"))
    for _ in range(60):
        got = subjects(d)
        if all(s in got for s in ("Mango season", "Apple harvest", "Re: Mango season")):
            break
        time.sleep(0.5)
        d.refresh()
    inbox = d.current_url.split("?")[0]

    step("sort by subject with the column header, then the other way")
    d.find_element(By.ID, "sort-subject").click()
    fm.wait(d).until(lambda d: "sort=subject" in d.current_url)
    got = [s for s in subjects(d) if "Mango" in s or "Apple" in s]
    assert got[0] == "Apple harvest", got
    th = d.find_element(By.ID, "sort-subject").find_element(By.XPATH, "..")
    assert th.get_attribute("aria-sort") == "ascending", th.get_attribute("outerHTML")
    d.find_element(By.ID, "sort-subject").click()
    fm.wait(d).until(lambda d: "order=desc" in d.current_url)
    got = [s for s in subjects(d) if "Mango" in s or "Apple" in s]
    assert got[-1] == "Apple harvest", got

    step("search for a subject with the form; a bad date is explained")
    d.get(inbox)
    box = d.find_element(By.ID, "search-subject")
    box.send_keys("apple")
    d.find_element(By.ID, "search-go").click()
    fm.wait(d).until(lambda d: "subject=apple" in d.current_url)
    assert subjects(d) == ["Apple harvest"], subjects(d)
    d.get(inbox + "?since=31.12.2026")
    err = fm.wait(d).until(lambda d: d.find_element(By.ID, "list-error"))
    assert "is not a date" in err.text, err.text

    step("the conversation view: Mango's two messages are one line")
    d.get(inbox)
    d.find_element(By.ID, "view-threads").click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "conversations"))
    rows = d.find_elements(By.CSS_SELECTOR, "#conversations tbody tr")
    mango = [r for r in rows if "Mango" in r.text]
    assert len(mango) == 1, [r.text for r in rows]
    assert mango[0].find_element(By.CSS_SELECTOR, "td.count").text == "2", mango[0].text
    mango[0].find_element(By.CSS_SELECTOR, "td.subject a").click()
    fm.wait(d).until(lambda d: "thread=" in d.current_url)
    assert subjects(d) == ["Mango season", "Re: Mango season"], subjects(d)

    step("at 375 px wide the list and its form fit")
    d.set_window_size(375, 800)
    d.get(inbox)
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "search"))
    fits(d)


if __name__ == "__main__":
    main()
