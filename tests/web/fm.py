"""Shared helpers for the dashboard's browser scripts: Debian's headless Chromium driven
through chromedriver (selenium), never a downloaded browser; TOTP codes (RFC 6238)."""

import base64
import hashlib
import hmac
import os
import shutil
import struct
import time

os.environ.setdefault("SE_OFFLINE", "true")  # selenium must not fetch drivers or browsers

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def tools():
    """The Chromium and chromedriver binaries, or None when either is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        return None
    return chromium, driver


def browser(width=1280, height=900):
    found = tools()
    if found is None:
        raise SystemExit("chromium or chromedriver missing")
    chromium, driver = found
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        # The admin listener's certificate is the test server's own.
        "--ignore-certificate-errors",
        f"--window-size={width},{height}",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    d.set_page_load_timeout(60)
    return d


def wait(d, seconds=20):
    return WebDriverWait(d, seconds, poll_frequency=0.2)


def login(d, base, address, password):
    d.get(base + "/login")
    d.find_element(By.ID, "address").clear()
    d.find_element(By.ID, "address").send_keys(address)
    d.find_element(By.ID, "password").send_keys(password)
    d.find_element(By.ID, "login-submit").click()


def totp(secret_b32, at=None, step=30, digits=6):
    """The RFC 6238 code (HMAC-SHA1) of `secret_b32` at unix time `at`."""
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    counter = int((time.time() if at is None else at) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % (10 ** digits)
    return str(code).zfill(digits), counter


def submit_and_wait(d, button):
    """Clicks a form's button and waits for the page the server answers with.

    A marker set on the old document disappears with it; asking for it while the browser
    is between documents can fail (chromedriver reports a node or a context that no longer
    exists), which only means "not yet". Selenium's staleness_of raises on that race.
    """
    d.execute_script("window.__fmOldPage = true;")
    button.click()

    def gone(drv):
        try:
            return drv.execute_script(
                "return document.readyState === 'complete' && !window.__fmOldPage;")
        except WebDriverException:
            return False

    wait(d).until(gone)
