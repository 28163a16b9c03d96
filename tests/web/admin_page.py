"""Drives the admin web page in headless Chromium: log in with the token, see the live FTPS
session of USER appear, disconnect it, see it go. Exit 0 on success; prints what it saw."""

import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

url, token, user = sys.argv[1], sys.argv[2], sys.argv[3]


def wait(what, cond, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = cond()
            if value:
                return value
        except Exception:  # the page redraws its tables; retry
            pass
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for: {what}\n{driver.page_source[:4000]}")


opts = webdriver.ChromeOptions()
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]:
    opts.add_argument(a)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
try:
    driver.get(url)
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "connect").click()
    wait("connected", lambda: driver.find_element(By.ID, "status").text == "connected")
    row = wait(
        f"a session of {user}",
        lambda: driver.find_element(By.CSS_SELECTOR, f'#sessions tr[data-user="{user}"]'),
    )
    print("session row:", row.text)
    row.find_element(By.TAG_NAME, "button").click()
    wait(
        "the session gone",
        lambda: not driver.find_elements(By.CSS_SELECTOR, f'#sessions tr[data-user="{user}"]'),
    )
    # A wrong token is refused and shown as an error, in red.
    driver.find_element(By.ID, "token").clear()
    driver.find_element(By.ID, "token").send_keys("not-the-token-0123456789")
    driver.find_element(By.ID, "connect").click()
    wait("wrong token shown", lambda: driver.find_element(By.ID, "status").text == "wrong token")
    assert driver.find_element(By.ID, "status").get_attribute("class") == "error"
    print("ok")
finally:
    driver.quit()
