"""Writes the dashboard's screenshots (docs/screenshots/dashboard-desktop.png, 1280 px wide,
and dashboard-phone.png, 375 px wide) from a running server; run by scripts/screenshots,
which starts the server and passes its addresses in the environment."""

import os
import smtplib
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fm  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

BASE = os.environ["FM_BASE"].rstrip("/")
ADMIN = os.environ["FM_ADMIN"]
PASSWORD = os.environ["FM_PASSWORD"]
SMTP = os.environ["FM_SMTP"]
OUT = os.environ["FM_OUT"]


def send(n):
    host, port = SMTP.rsplit(":", 1)
    with smtplib.SMTP(host, int(port), timeout=30) as s:
        s.ehlo("client.test")
        for i in range(n):
            s.sendmail(
                "alice@sender.test",
                [ADMIN],
                f"From: alice@sender.test\r\nTo: {ADMIN}\r\nSubject: sample {i}\r\n\r\nhello\r\n",
            )


def shoot(width, height, name):
    d = fm.browser(max(width, 800), height)
    try:
        # Chromium's windows have a minimum width; a phone is emulated instead.
        d.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        fm.login(d, BASE, ADMIN, PASSWORD)
        fm.wait(d).until(lambda d: d.find_elements(By.ID, "overview"))
        # A few snapshots so the charts have lines: mail arrives between them.
        for _ in range(6):
            send(3)
            time.sleep(2)
        d.execute_script("window.scrollTo(0, 0);")
        path = os.path.join(OUT, name)
        d.save_screenshot(path)
        print("wrote", path)
    finally:
        d.quit()


if __name__ == "__main__":
    shoot(1280, 1000, "dashboard-desktop.png")
    shoot(375, 812, "dashboard-phone.png")
