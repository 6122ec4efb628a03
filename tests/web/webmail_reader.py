"""The webmail reader's safety features and categories in headless Chromium, against a
running server (started by tests/web_browser.rs, which passes its addresses in the
environment):

 1. an HTML message with a remote image and a link showing another host than it goes to
    is sent over SMTP; log in and open it;
 2. the frame has no remote image and the page counts it as blocked; the suspicious link
    is listed above the frame and marked in it;
 3. "Show remote images": the frame now holds the remote image; "Always for <sender>":
    the message shows it without asking, after a reload too;
 4. add the category $label1 with the keyboard: a chip on the reader and on the list;
    remove it again;
 5. at 375 px wide, the reader with its notices does not scroll sideways.

Every wait is bounded; any failure raises, and the exit status is non-zero."""

import os
import smtplib
import sys
import time
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fm  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

BASE = os.environ["FM_BASE"].rstrip("/")
USER = os.environ["FM_USER"]
PASSWORD = os.environ["FM_PASSWORD"]
SMTP = os.environ["FM_SMTP"]
SUBJECT = "Your statement is ready"
SENDER = "news@shop.test"
IMAGE = "https://images.shop.test/banner.png"


def step(text):
    print(f"-- {text}", flush=True)


def fits(d):
    inner, scroll = d.execute_script(
        "return [window.innerWidth, document.documentElement.scrollWidth]")
    assert scroll <= inner, f"{d.current_url}: {scroll} px wide in a {inner} px window"


def send():
    msg = EmailMessage()
    msg["From"] = f"Shop <{SENDER}>"
    msg["To"] = USER
    msg["Subject"] = SUBJECT
    msg.set_content("See the HTML part.\n")
    msg.add_alternative(
        f"<p id='hello'>Hello</p><img id='banner' src='{IMAGE}' alt='banner'>"
        "<p><a href='https://phish.test/login'>https://bank.test/login</a></p>",
        subtype="html",
    )
    host, port = SMTP.rsplit(":", 1)
    with smtplib.SMTP(host, int(port), timeout=60) as s:
        s.ehlo("client.test")
        s.send_message(msg)


def frame_source(d):
    d.switch_to.frame(d.find_element(By.ID, "body-frame"))
    try:
        fm.wait(d).until(lambda d: "Hello" in d.page_source)
        return d.page_source
    finally:
        d.switch_to.default_content()


def main():
    step("send an HTML message with a remote image and a misleading link over SMTP")
    send()
    d = fm.browser()
    try:
        run(d)
    finally:
        d.quit()
    print("webmail reader browser test: all steps passed", flush=True)


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
    d.find_element(By.LINK_TEXT, SUBJECT).click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "subject"))
    message_url = d.current_url

    step("the remote image is blocked and counted; the misleading link is flagged")
    notice = d.find_element(By.ID, "images-blocked")
    assert "1 remote image blocked" in notice.text, notice.text
    src = frame_source(d)
    assert "images.shop.test" not in src, src
    assert "goes to phish.test" in src, src
    warnings = d.find_element(By.ID, "link-warnings").text
    assert "https://bank.test/login" in warnings and "phish.test" in warnings, warnings

    step("show remote images for this message")
    d.find_element(By.ID, "show-images").click()
    fm.wait(d).until(lambda d: "images=1" in d.current_url)
    assert not d.find_elements(By.ID, "images-blocked")
    assert IMAGE in frame_source(d)

    step("always show images from the sender: shown on a plain reload too")
    d.get(message_url)
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "always-images"))
    button = d.find_element(By.ID, "always-images")
    assert SENDER in button.text, button.text
    button.click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "images-allowed"))
    d.get(message_url)
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "images-allowed"))
    assert IMAGE in frame_source(d)

    step("add the category $label1 with the keyboard; a chip here and in the list")
    field = d.find_element(By.ID, "category-name")
    label = d.find_element(By.CSS_SELECTOR, "label[for='category-name']")
    assert label.text, "the category field has a label"
    field.send_keys("$label1")
    field.send_keys(Keys.ENTER)
    fm.wait(d).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#categories .chip-name"))
    assert d.find_element(By.CSS_SELECTOR, "#categories .chip-name").text == "$label1"

    step("at 375 px wide, the reader with its notices fits")
    d.set_window_size(375, 800)
    d.refresh()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "subject"))
    fits(d)
    d.set_window_size(1280, 900)

    d.find_element(By.ID, "back").click()
    row = fm.wait(d).until(lambda d: d.find_element(By.LINK_TEXT, SUBJECT)).find_element(
        By.XPATH, "ancestor::tr")
    chips = [c.text for c in row.find_elements(By.CSS_SELECTOR, ".chip")]
    assert chips == ["$label1"], chips

    step("remove the category again")
    d.find_element(By.LINK_TEXT, SUBJECT).click()
    fm.wait(d).until(lambda d: d.find_elements(By.ID, "subject"))
    d.find_element(By.CSS_SELECTOR, "button[aria-label='Remove category $label1']").click()
    fm.wait(d).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#categories .chip-name"))
    assert d.find_elements(By.ID, "add-category")


if __name__ == "__main__":
    main()
