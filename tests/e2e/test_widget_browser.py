"""The site widget in a real headless Chromium against `python -m bot run` (WEB_DEMO=1) as a subprocess.

Needs Debian's `chromium` and `chromium-driver` (installed by `.ci/run`) and selenium; skipped without them.
A screenshot of the open widget on a phone-sized viewport is saved to tests/artifacts/widget-mobile.png.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.bot_env import bot_env

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or (
    "/usr/lib/chromium/chromedriver" if os.path.exists("/usr/lib/chromium/chromedriver") else None
)

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - selenium is in the dev extras
    webdriver = None  # type: ignore[assignment]

pytestmark = [
    pytest.mark.skipif(webdriver is None, reason="selenium is not installed (pip install -e '.[dev]')"),
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)",
    ),
]

WAIT = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def site_page(bot: str, transport: str = "", color: str = "#6a1b9a") -> bytes:
    extra = f' data-transport="{transport}"' if transport else ""
    return (
        '<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Сайт клиники</title></head>'
        f'<body><h1>Клиника</h1><script src="{bot}/widget.js" data-title="Клиника"'
        f' data-color="{color}" data-position="left"{extra} async></script></body></html>'
    ).encode()


def serve_site(page: bytes) -> tuple[ThreadingHTTPServer, str]:
    """Another site (another origin) that embeds the widget with its one script line."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class Running:
    def __init__(self, url: str, data: Path, allowed: str, refused: str) -> None:
        self.url, self.data, self.allowed, self.refused = url, data, allowed, refused

    def leads(self) -> list[dict[str, str]]:
        path = self.data / "leads.csv"
        if not path.exists():
            return []
        with open(path, encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("widget")
    port = free_port()
    bot = f"http://127.0.0.1:{port}"
    allowed_site, allowed = serve_site(site_page(bot, transport="http"))
    refused_site, refused = serve_site(site_page(bot, color="#ffd54f"))
    env = bot_env(
        tmp / "data",
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(port),
        WEB_DEMO="1",
        WEB_ALLOWED_ORIGINS=allowed,
        QUIET_HOURS="",
    )
    log = open(tmp / "run.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(bot + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"`python -m bot run` did not start: {(tmp / 'run.log').read_text()}")
                time.sleep(0.1)
        yield Running(bot, tmp / "data", allowed, refused)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        allowed_site.shutdown()
        refused_site.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager must never download a driver
    try:
        driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    except WebDriverException as exc:
        pytest.skip(f"chromium could not be started by chromium-driver: {exc.msg}")
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


# --- helpers --------------------------------------------------------------------------------------------


def fresh(driver: WebDriver, url: str) -> None:
    """Open `url` as a first-time visitor (nothing in localStorage or sessionStorage).

    The earlier pages are closed first: a widget still running there could write its session token back
    after the storage was cleared (that race made this suite flaky)."""
    parts = urlsplit(url)
    stale = driver.window_handles
    driver.switch_to.new_window("tab")  # a new tab starts with an empty sessionStorage
    current = driver.current_window_handle
    for handle in stale:
        driver.switch_to.window(handle)
        driver.close()
    driver.switch_to.window(current)
    driver.execute_cdp_cmd(
        "Storage.clearDataForOrigin",
        {"origin": f"{parts.scheme}://{parts.netloc}", "storageTypes": "local_storage"},
    )
    driver.get(url)
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-role="launcher"]'))


def wait_for(driver: WebDriver, condition: Any, timeout: float = WAIT) -> Any:
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)
    except TimeoutException:
        raise AssertionError(f"timed out; the widget shows:\n{transcript(driver)}") from None


def role(driver: WebDriver, name: str) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, f'[data-role="{name}"]')


def messages(driver: WebDriver, who: str | None = None) -> list[WebElement]:
    selector = '[data-role="message"]' + (f'[data-from="{who}"]' if who else "")
    return driver.find_elements(By.CSS_SELECTOR, selector)


def transcript(driver: WebDriver) -> str:
    return "\n".join(f"{m.get_attribute('data-from')}: {m.text}" for m in messages(driver))


def last_bot_text(driver: WebDriver) -> str:
    found = messages(driver, "bot")
    return found[-1].text if found else ""


def bot_text_since(driver: WebDriver, before: int) -> str:
    """Everything the bot said after its `before`-th message."""
    return "\n".join(m.text for m in messages(driver, "bot")[before:])


def open_widget(driver: WebDriver) -> None:
    role(driver, "launcher").click()
    wait_for(driver, lambda d: role(d, "panel").is_displayed())
    wait_for(driver, lambda d: messages(d, "bot"))


def answered(driver: WebDriver, before: int) -> Any:
    def check(d: WebDriver) -> bool:
        typing = d.find_element(By.CSS_SELECTOR, ".cw-typing")
        return len(messages(d, "bot")) > before and not typing.is_displayed()

    return check


def type_message(driver: WebDriver, text: str) -> str:
    before = len(messages(driver, "bot"))
    box = role(driver, "input")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)
    wait_for(driver, answered(driver, before))
    return bot_text_since(driver, before)


def choose(driver: WebDriver, label: str) -> str:
    before = len(messages(driver, "bot"))
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-role="choice"]'))
    buttons = driver.find_elements(By.CSS_SELECTOR, '[data-role="choice"]')
    match = [b for b in buttons if b.text.startswith(label)]
    assert match, f"no button {label!r} among {[b.text for b in buttons]}"
    match[0].click()
    wait_for(driver, answered(driver, before))
    return bot_text_since(driver, before)


# --- tests ------------------------------------------------------------------------------------------------


def test_demo_page_opens_the_widget_accessibly(service: Running, browser: WebDriver) -> None:
    fresh(browser, service.url + "/")
    launcher = role(browser, "launcher")
    assert "Ответим за 10 секунд — напишите нам!" in launcher.text
    assert launcher.get_attribute("aria-expanded") == "false"
    assert not role(browser, "panel").is_displayed()
    # Keyboard only: focus the launcher and press Enter.
    browser.execute_script("arguments[0].focus()", launcher)
    launcher.send_keys(Keys.ENTER)
    wait_for(browser, lambda d: role(d, "panel").is_displayed())
    assert launcher.get_attribute("aria-expanded") == "true"
    assert browser.switch_to.active_element == role(browser, "input")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-role="choice"]'))
    assert "Здоровье Самары" in last_bot_text(browser)
    labels = [b.text for b in browser.find_elements(By.CSS_SELECTOR, '[data-role="choice"]')]
    assert "ЛОР" in labels
    panel = role(browser, "panel")
    assert panel.get_attribute("role") == "dialog" and panel.get_attribute("aria-label")
    assert role(browser, "input").get_attribute("aria-label") == "Ваше сообщение"
    assert role(browser, "send").get_attribute("aria-label") == "Отправить"
    consent = browser.find_element(By.CSS_SELECTOR, ".cw-consent a")
    assert consent.get_attribute("href").startswith("https://zdorovie-samara.example.ru/")
    link_texts = [a.text for a in browser.find_elements(By.CSS_SELECTOR, ".cw-links a")]
    assert link_texts == ["Продолжить в Telegram", "Продолжить в WhatsApp"]
    # Escape closes the panel and gives the focus back to the launcher.
    role(browser, "input").send_keys(Keys.ESCAPE)
    wait_for(browser, lambda d: not role(d, "panel").is_displayed())
    assert browser.switch_to.active_element == launcher


def test_booking_by_buttons(service: Running, browser: WebDriver) -> None:
    fresh(browser, service.url + "/")
    open_widget(browser)
    assert "согласн" in choose(browser, "ЛОР").lower()
    choose(browser, "Да")
    assert "телефон" in type_message(browser, "Ольга")
    type_message(browser, "8 912 345-67-89")
    choose(browser, "После 14")
    summary = choose(browser, "Впервые")
    assert "Ольга" in summary and "ЛОР" in summary
    assert "Заявка принята" in choose(browser, "Всё верно")
    session = role(browser, "panel").find_element(By.XPATH, "..").get_attribute("data-session")
    rows = [r for r in service.leads() if r["Телефон"] == "+79123456789"]
    assert len(rows) == 1
    assert (rows[0]["Канал"], rows[0]["Контакт"], rows[0]["Имя"]) == ("web", session, "Ольга")


def test_booking_by_typing_with_a_reload_in_the_middle(service: Running, browser: WebDriver) -> None:
    fresh(browser, service.url + "/")
    open_widget(browser)
    type_message(browser, "Я Анна, хочу к терапевту утром, повторно, 89271234567")
    reply = type_message(browser, "да")
    assert "Анна" in reply and "+7 927 123-45-67" in reply
    before = transcript(browser)
    browser.refresh()
    # The panel comes back open in this tab, with the whole conversation.
    wait_for(browser, lambda d: role(d, "panel").is_displayed())
    wait_for(browser, lambda d: transcript(d) == before)
    assert "Заявка принята" in type_message(browser, "всё верно")
    [row] = [r for r in service.leads() if r["Телефон"] == "+79271234567"]
    assert (row["Имя"], row["Время приёма"], row["Обращение"], row["Канал"]) == (
        "Анна",
        "до 14:00",
        "повторное",
        "web",
    )
    # A new tab of the same site continues the same conversation.
    browser.switch_to.new_window("tab")
    browser.get(service.url + "/")
    # A returning patient: the widget reconnects at once (the session is known), the old history is loaded
    # quietly (no "new message" badge for it).
    wait_for(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-clinic-chat]").get_attribute("data-session")
    )
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, '[data-role="message"]')) > 4)
    assert not browser.find_element(By.CSS_SELECTOR, ".cw-badge").is_displayed()
    open_widget(browser)
    wait_for(browser, lambda d: "Заявка принята" in transcript(d))
    browser.close()
    browser.switch_to.window(browser.window_handles[0])


def test_an_allowed_site_on_another_origin_over_the_http_fallback(
    service: Running, browser: WebDriver
) -> None:
    fresh(browser, service.allowed)
    root = browser.find_element(By.CSS_SELECTOR, "[data-clinic-chat]")
    assert root.get_attribute("data-position") == "left"
    launcher = role(browser, "launcher")
    assert launcher.value_of_css_property("background-color") == "rgba(106, 27, 154, 1)"
    assert launcher.value_of_css_property("color") == "rgba(255, 255, 255, 1)"  # white on dark purple
    open_widget(browser)
    assert "Здоровье Самары" in last_bot_text(browser)
    assert "согласн" in choose(browser, "Невролог").lower()
    assert "Нет связи" not in browser.find_element(By.CSS_SELECTOR, ".cw-notice").get_attribute("textContent")


def test_a_refused_origin_shows_that_the_chat_is_not_connected(service: Running, browser: WebDriver) -> None:
    fresh(browser, service.refused)
    launcher = role(browser, "launcher")
    wait_for(
        browser, lambda d: launcher.value_of_css_property("color") == "rgba(17, 17, 17, 1)"
    )  # dark on amber
    launcher.click()
    notice = browser.find_element(By.CSS_SELECTOR, ".cw-notice")
    wait_for(browser, lambda d: notice.is_displayed() and "не подключён" in notice.text)
    assert not role(browser, "input").is_enabled()
    assert messages(browser) == []


def test_an_over_long_message_is_refused_and_kept_for_editing(service: Running, browser: WebDriver) -> None:
    fresh(browser, service.url + "/")
    open_widget(browser)
    long_text = "Очень подробно опишу " + "симптомы " * 130
    browser.execute_script("arguments[0].value = arguments[1]", role(browser, "input"), long_text)
    role(browser, "send").click()
    notice = browser.find_element(By.CSS_SELECTOR, ".cw-notice")
    wait_for(browser, lambda d: notice.is_displayed() and "слишком длинным" in notice.text)
    assert "1000" in notice.text
    assert messages(browser, "patient") == []
    assert role(browser, "input").get_attribute("value") == long_text.strip()


def test_phone_sized_screenshot_of_the_open_widget(service: Running, browser: WebDriver) -> None:
    fresh(browser, service.url + "/")  # a new tab: the phone metrics are set on it, then the page loads again
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )
    try:
        browser.get(service.url + "/")
        open_widget(browser)
        choose(browser, "Терапевт")
        panel = role(browser, "panel")
        width = browser.execute_script("return window.innerWidth")
        assert width == 390
        assert panel.size["width"] == width  # full screen on a phone
        assert role(browser, "send").size["height"] >= 44  # a thumb-sized target
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / "widget-mobile.png"
        assert browser.save_screenshot(str(path))
        assert path.stat().st_size > 10_000
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
