"""A real browser on the dashboard: Debian's headless Chromium driven by Selenium through
Debian's chromedriver (nothing is downloaded: the driver's path is given, Selenium Manager
stays offline).

    python -m tests.dashboard_browser http://10.89.0.11 admin PASSWORD SERVER VOLUME CONTAINER SHOT.png

logs in, finds SERVER on the instances page (screenshot), VOLUME on the volumes page,
CONTAINER on the containers page, and signs out; it prints what it saw and exits 1 on the
first thing missing.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 60


class DashboardProblem(Exception):
    pass


@dataclass
class Visit:
    seen: list[str] = field(default_factory=list)

    def note(self, what: str, started: float) -> None:
        self.seen.append(f"{what} ({time.monotonic() - started:.1f}s)")


def browser() -> webdriver.Chrome:

    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait_for(driver: webdriver.Chrome, what: str, condition: Callable[[webdriver.Chrome], object]) -> None:

    # Horizon replaces table rows as their status refreshes and Angular re-renders its tables:
    # an element found a moment ago may be gone; the condition is simply asked again.
    try:
        WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException:
        raise DashboardProblem(f"{what}: not within {WAIT}s at {driver.current_url} ({driver.title})") from None


def click(driver: webdriver.Chrome, what: str, selector: str) -> None:

    def clicked(d: webdriver.Chrome) -> bool:
        d.find_element(By.CSS_SELECTOR, selector).click()
        return True

    wait_for(driver, f"a click on {what}", clicked)


def visit(root: str, user: str, password: str, server: str, volume: str, container: str, screenshot: Path) -> list[str]:

    done = Visit()
    driver = browser()
    try:
        started = time.monotonic()
        driver.get(f"{root}/auth/login/")
        driver.find_element(By.ID, "id_username").send_keys(user)
        driver.find_element(By.ID, "id_password").send_keys(password)
        driver.find_element(By.ID, "loginBtn").click()
        wait_for(driver, "a page with a Sign Out after the login", lambda d: "/auth/login/" not in d.current_url)
        wait_for(
            driver,
            "the user menu's Sign Out",
            lambda d: d.find_elements(By.CSS_SELECTOR, "form[action='/auth/logout/'] button"),
        )
        done.note(f"logged in as {user}, on {driver.title}", started)

        started = time.monotonic()
        driver.get(f"{root}/project/instances/")
        row = f"tr[data-display='{server}']"
        wait_for(
            driver,
            f"{server} listed Active on the instances page",
            lambda d: any("Active" in e.text for e in d.find_elements(By.CSS_SELECTOR, row)),
        )
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
        done.note(f"instances page lists {server}, Active; screenshot {screenshot}", started)

        started = time.monotonic()
        driver.get(f"{root}/project/volumes/")
        wait_for(
            driver,
            f"{volume} on the volumes page",
            lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-display='{volume}']"),
        )
        done.note(f"volumes page lists {volume}", started)

        # The containers page is Angular: its table fills from Horizon's REST API.
        started = time.monotonic()
        driver.get(f"{root}/project/containers/")
        wait_for(
            driver,
            f"{container} on the containers page",
            lambda d: any(container in e.text for e in d.find_elements(By.CSS_SELECTOR, "a, td, span")),
        )
        done.note(f"containers page lists {container}", started)

        started = time.monotonic()
        # As a user does: open the user menu, click Sign Out.
        click(driver, "the user menu", "li.user-menu > a.dropdown-toggle")
        wait_for(
            driver,
            "Sign Out in the open user menu",
            lambda d: d.find_element(By.CSS_SELECTOR, "form[action='/auth/logout/'] button").is_displayed(),
        )
        click(driver, "Sign Out", "form[action='/auth/logout/'] button")
        wait_for(driver, "the login page after signing out", lambda d: d.find_elements(By.ID, "id_username"))
        driver.get(f"{root}/project/instances/")
        wait_for(driver, "the login page for a signed-out browser", lambda d: "/auth/login/" in d.current_url)
        done.note("signed out; /project/instances/ asks for a login again", started)
    finally:
        driver.quit()
    return done.seen


def main(argv: list[str]) -> int:
    root, user, password, server, volume, container, shot = argv
    try:
        seen = visit(root, user, password, server, volume, container, Path(shot))
    except DashboardProblem as problem:
        print(f"dashboard: {problem}")
        return 1
    print("\n".join(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
