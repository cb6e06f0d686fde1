"""A headless Chromium for the browser tests (tests/test_draw_html.py, tests/test_serve.py), or why there is none.

``missing()`` says what to install when selenium, chromium, chromedriver or Graphviz's dot is absent
(the tests skip with that reason); ``chrome(width, height)`` starts the driver at that window size.
"""
from __future__ import annotations

import shutil

from agqc.backends.drawing import have_dot

HINT = ("no headless browser: install Debian's chromium and its driver (`apt-get install chromium chromium-driver`, "
        "or run `make test` as root, which does), and selenium (`pip install -e '.[dev]'`)")


def missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return HINT
    if not (shutil.which("chromium") or shutil.which("chromium-browser")) or not shutil.which("chromedriver"):
        return HINT
    return None if have_dot() else "Graphviz's dot is not installed: `make setup` installs it"


def chrome(width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary is not None
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    return driver
