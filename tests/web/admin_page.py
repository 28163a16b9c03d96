"""Drives the admin web page in headless Chromium as an operator would: log in with the token,
see the live FTPS session of USER, manage users, groups and IP lists through the forms, answer
the confirmation dialogs (No first, then Yes), check the log opens at its newest line, and
disconnect everyone. Exit 0 on success; prints what it saw. The Rust test then checks the files
and the server."""

import sys
import time

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

url, token, user, last_log_line = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]


def wait(what, cond, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            value = cond()
            if value:
                return value
        except Exception:  # the page redraws its tables every 2 s; retry
            pass
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for: {what}\n{driver.page_source[:6000]}")


def dialog(accept, text=None):
    """Answers the confirm()/prompt() the last click opened; returns its question."""

    def present():
        try:
            return driver.switch_to.alert
        except NoAlertPresentException:
            return None

    alert = wait("a dialog", present)
    question = alert.text
    if text is not None:
        alert.send_keys(text)
    alert.accept() if accept else alert.dismiss()
    return question


def click(selector, label):
    """Clicks the button labelled `label` in the row `selector` (retried across redraws)."""

    def go():
        row = driver.find_element(By.CSS_SELECTOR, selector)
        for b in row.find_elements(By.TAG_NAME, "button"):
            if b.text == label:
                b.click()
                return True
        return False

    wait(f"{label} in {selector}", go)


def fill(fields):
    for id_, value in fields.items():
        el = driver.find_element(By.ID, id_)
        if el.tag_name == "select":
            Select(el).select_by_value(value)
        else:
            el.clear()
            el.send_keys(value)


def status_says(part):
    return wait(
        f"status saying {part!r}",
        lambda: part in driver.find_element(By.ID, "manage-status").text
        and driver.find_element(By.ID, "manage-status").text,
    )


def redrawn():
    """Waits for the page's next redraw (the uptime in the stats line moves on)."""
    before = driver.find_element(By.ID, "stats").text
    wait("a redraw", lambda: driver.find_element(By.ID, "stats").text != before)


def row(selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


opts = webdriver.ChromeOptions()
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]:
    opts.add_argument(a)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
try:
    driver.get(url)
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "connect").click()
    wait("connected", lambda: driver.find_element(By.ID, "status").text == "connected")
    session = f'#sessions tr[data-user="{user}"]'
    print("session row:", wait(f"a session of {user}", lambda: row(session))[0].text)

    # The log opens at its newest line, not at the top of the day.
    def log_at_end():
        box = driver.find_element(By.ID, "log")
        lines = box.find_elements(By.TAG_NAME, "div")
        at_end = driver.execute_script(
            "const b = arguments[0]; return b.scrollHeight > b.clientHeight && b.scrollTop + b.clientHeight >= b.scrollHeight - 4;",
            box,
        )
        return lines and lines[-1].text == last_log_line and at_end and lines[0].text

    first = wait("the log at its newest line", log_at_end)
    assert "filler 0 " not in first + " ", f"the log began at the top of the day: {first}"
    print("log opens at the newest line; first line shown:", first)

    # Users: add one with a password, rights and quota.
    fill({"ua-name": "carol", "ua-password": "Carol-pw-1", "ua-home": "carol", "ua-rights": "rw", "ua-quota": "5"})
    driver.find_element(By.CSS_SELECTOR, "#user-add button").click()
    print(status_says("user 'carol' added"))
    wait("carol listed", lambda: row('#users tr[data-user="carol"]'))
    # A bad one is refused with the server's reason, shown in red.
    fill({"ua-name": "bad name", "ua-home": "x"})
    driver.find_element(By.CSS_SELECTOR, "#user-add button").click()
    wait("refusal shown", lambda: driver.find_element(By.ID, "manage-status").get_attribute("class") == "error")
    print("refused:", driver.find_element(By.ID, "manage-status").text)

    # Change: a mount, then the password through its prompt, then disable (confirmed).
    wait("carol selectable", lambda: Select(driver.find_element(By.ID, "um-name")).select_by_value("carol") or True)
    fill({"um-mount": "carol-pub:/pub:r"})
    driver.find_element(By.CSS_SELECTOR, "#user-mod button").click()
    print(status_says("mount added"))
    wait("the mount shown", lambda: "/pub" in row('#users tr[data-user="carol"]')[0].text)
    click('#users tr[data-user="carol"]', "Password")
    dialog(True, "Carol-pw-2")
    print(status_says("password changed"))
    click('#users tr[data-user="carol"]', "Disable")
    print("asked:", dialog(True))
    wait("carol disabled", lambda: "disabled" in row('#users tr[data-user="carol"]')[0].text)

    # Add dave with a generated password, then delete: No keeps him, Yes deletes.
    fill({"ua-name": "dave", "ua-home": "dave"})
    driver.find_element(By.CSS_SELECTOR, "#user-add button").click()
    print(status_says("generated password"))
    wait("dave listed", lambda: row('#users tr[data-user="dave"]'))
    click('#users tr[data-user="dave"]', "Delete")
    print("asked:", dialog(False))
    redrawn()
    assert row('#users tr[data-user="dave"]'), "dave deleted although the dialog said No"
    click('#users tr[data-user="dave"]', "Delete")
    dialog(True)
    wait("dave gone", lambda: not row('#users tr[data-user="dave"]'))

    # Groups: add one with a mount, delete it (confirmed).
    fill({"ga-name": "staff", "ga-mounts": "staff-share:/shared:rw"})
    driver.find_element(By.CSS_SELECTOR, "#group-add button").click()
    print(status_says("group 'staff' added"))
    wait("staff listed", lambda: "/shared" in row('#groups tr[data-group="staff"]')[0].text)
    click('#groups tr[data-group="staff"]', "Delete")
    print("asked:", dialog(True))
    wait("staff gone", lambda: not row('#groups tr[data-group="staff"]'))

    # IP lists: deny (confirmed) then remove; allow one that stays.
    fill({"ip-pattern": "203.0.113.7"})
    driver.find_element(By.ID, "ip-deny").click()
    print("asked:", dialog(True))
    print(status_says("203.0.113.7 denied"))
    wait("deny listed", lambda: row('#access tr[data-pattern="203.0.113.7"][data-list="deny"]'))
    click('#access tr[data-pattern="203.0.113.7"]', "Remove")
    dialog(True)
    wait("deny removed", lambda: not row('#access tr[data-pattern="203.0.113.7"]'))
    fill({"ip-pattern": "127.0.0.0/8"})
    driver.find_element(By.ID, "ip-allow").click()
    print(status_says("127.0.0.0/8 allowed"))
    wait("allow listed", lambda: row('#access tr[data-pattern="127.0.0.0/8"][data-list="allow"]'))

    # A denied address allowed later moves lists; Remove on the allow row takes it off that one.
    fill({"ip-pattern": "198.51.100.9"})
    driver.find_element(By.ID, "ip-deny").click()
    dialog(True)
    print(status_says("198.51.100.9 denied"))
    fill({"ip-pattern": "198.51.100.9"})
    driver.find_element(By.ID, "ip-allow").click()
    print(status_says("taken off the deny list"))
    wait("moved", lambda: row('#access tr[data-pattern="198.51.100.9"][data-list="allow"]')
         and not row('#access tr[data-pattern="198.51.100.9"][data-list="deny"]'))
    click('#access tr[data-pattern="198.51.100.9"]', "Remove")
    print("asked:", dialog(True))
    print(status_says("removed from the allow list"))
    # Disconnect all: No keeps the session, Yes ends it.
    driver.find_element(By.ID, "kick-all").click()
    print("asked:", dialog(False))
    redrawn()
    assert row(session), "the session ended although the dialog said No"
    driver.find_element(By.ID, "kick-all").click()
    dialog(True)
    wait("the session gone", lambda: not row(session))

    # A wrong token is refused and shown as an error, in red.
    driver.find_element(By.ID, "token").clear()
    driver.find_element(By.ID, "token").send_keys("not-the-token-0123456789")
    driver.find_element(By.ID, "connect").click()
    wait("wrong token shown", lambda: driver.find_element(By.ID, "status").text == "wrong token")
    assert driver.find_element(By.ID, "status").get_attribute("class") == "error"
    print("ok")
finally:
    driver.quit()
