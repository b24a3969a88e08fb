"""Fixtures of the API Keys panel's browser suite: a headless Chromium driven by Selenium,
the running example server (started by scripts/panel-test.sh) and a plain HTTP client for
calling the API with the keys the page shows."""

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def _required(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the suite with scripts/panel-test.sh", returncode=2)
    return value


@pytest.fixture(scope="session")
def base_url():
    """The example server, e.g. http://127.0.0.1:41234 (no trailing slash)."""
    return _required("PANEL_URL").rstrip("/")


@pytest.fixture(scope="session")
def panel_url(base_url):
    return f"{base_url}/settings/api-keys"


@pytest.fixture(scope="session")
def admin_key():
    """The admin key the server printed on its first start."""
    return _required("PANEL_ADMIN_KEY")


@pytest.fixture(scope="session")
def other_workspace(admin_key):
    """The `globex` workspace, which the operator made with the CLI on the server's database:
    its admin key, and the `default` workspace's admin key to compare with."""
    return {"admin_key": _required("PANEL_OTHER_ADMIN_KEY"), "default_admin_key": admin_key}


@pytest.fixture(scope="session")
def paged_workspace():
    """The `initech` workspace: its admin key and the number of its keys, more than one page
    of GET /keys holds (505 imported with the CLI, and the admin key)."""
    return {"admin_key": _required("PANEL_PAGED_ADMIN_KEY"), "keys": 506}


@pytest.fixture(scope="session")
def shots():
    """Saves a screenshot of the page as <dir>/<name>.png."""
    directory = Path(os.environ.get("PANEL_SCREENSHOTS", "target/panel-screenshots"))
    directory.mkdir(parents=True, exist_ok=True)

    def save(driver, name):
        driver.save_screenshot(str(directory / f"{name}.png"))

    return save


def chromium_options(user_data_dir):
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("PANEL_CHROMIUM", shutil.which("chromium") or "chromium")
    # The machine's network is closed: without these Chromium's own background connections
    # fail noisily. A fresh profile so nothing is left from an earlier run.
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={user_data_dir}",
        "--window-size=1280,900",
        "--force-device-scale-factor=1",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@pytest.fixture(scope="module")
def driver():
    profile = tempfile.mkdtemp(prefix="keygate-panel-chromium-")
    service = Service(executable_path=os.environ.get("PANEL_CHROMEDRIVER", shutil.which("chromedriver") or "chromedriver"))
    browser = webdriver.Chrome(service=service, options=chromium_options(profile))
    browser.set_page_load_timeout(30)
    browser.set_script_timeout(10)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


@pytest.fixture(scope="session")
def http(base_url):
    """http(method, path, key=None, body=None) -> Answer: a request outside the browser."""

    def call(method, path, key=None, body=None):
        headers = {}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        data = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"{base_url}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Answer(response.status, response.headers, response.read().decode())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers, error.read().decode())

    return call
