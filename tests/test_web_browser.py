"""The real page in headless Chromium (Debian's chromium and chromium-driver):
log in, see the cards filled from a demo database and the charts drawn, press a
button, and check that no request left loopback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from web_support import settings_for, token

from nessdata.schema import clients
from nessdata.web import create_app
from nessdata.web.formatting import number

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions",
         "--disable-default-apps", "--window-size=1280,3200",
         # Anything that is not loopback fails to resolve instead of leaving.
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
SHOT_COPY = Path("/tmp/nessdata-dashboard.png")


def _need_chromium():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium is not installed: apt-get install -y chromium "
                    "chromium-driver (.ci/run installs it)")
    return pytest.importorskip("selenium", reason="selenium is not installed "
                               "(pip install -e '.[test]')")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(db):
    import uvicorn

    from nessdata.demo import run_demo

    run_demo(db, months=3)
    app = create_app(settings_for(db), db)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # waiting for readiness, not measuring anything
        assert thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join()


@pytest.fixture
def browser(tmp_path, monkeypatch):
    _need_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not download
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options,
                              service=Service(executable_path=str(CHROMEDRIVER)))
    yield driver
    driver.quit()


def _wait(driver, css: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 20).until(
        ready.presence_of_element_located((By.CSS_SELECTOR, css)))


def _requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_log_in_see_the_dashboard_and_run_a_rollup(db, server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    secret = token(db, "fin")
    browser.get(f"{server}/")
    _wait(browser, "#token").send_keys(secret)
    browser.find_element(By.ID, "login-button").click()
    cards = _wait(browser, "#cards")

    with db.begin() as conn:
        total = conn.execute(select(func.count()).select_from(clients)).scalar_one()
    assert total > 0
    clients_card = browser.find_element(By.ID, "card-clients").text
    assert number(total) in clients_card
    assert "—" not in browser.find_element(By.ID, "card-events").text
    assert "/" in browser.find_element(By.ID, "card-indices").text  # a MM/YYYY month
    assert cards.is_displayed()

    bars = browser.find_elements(By.CSS_SELECTOR, "#chart-events svg rect.bar")
    assert len(bars) > 60  # 90 days stacked by module
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-events .legend li")
    for chart in ("chart-indices", "chart-dollar_ptax", "chart-ipca"):
        path = browser.find_element(By.CSS_SELECTOR, f"#{chart} svg path.line")
        assert len(path.get_attribute("d")) > 20, chart

    chooser = Select(browser.find_element(By.ID, "index-select"))
    before = browser.find_element(By.CSS_SELECTOR, "#chart-indices path.line")
    chooser.select_by_index(len(chooser.options) - 1)
    after = browser.find_element(By.CSS_SELECTOR, "#chart-indices path.line")
    assert before.id != after.id  # the chart was drawn again for the new index

    browser.save_screenshot(str(tmp_path / "dashboard.png"))
    shutil.copy(tmp_path / "dashboard.png", SHOT_COPY)

    browser.find_element(By.ID, "run-aggregate-events").click()
    flash = _wait(browser, ".flash")
    assert "Agregar eventos: ok" in flash.text
    browser.save_screenshot(str(tmp_path / "after-rollup.png"))

    urls = _requested_urls(browser)
    assert any(url.endswith("/static/charts.js") for url in urls)
    # chrome:// and data: URLs are the browser's own pages and inline data.
    network = [u for u in urls if urlsplit(u).scheme in ("http", "https", "ws", "wss")]
    assert network
    assert [u for u in network if urlsplit(u).hostname != "127.0.0.1"] == []
    assert os.path.getsize(tmp_path / "dashboard.png") > 10_000
