"""The live gate board, in Debian's headless Chromium (driven by Selenium), while the jinshan-2022
simulation runs through the pipeline: the numbers fill in and change, and a screenshot of the
filled board is saved (its path is printed)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from streams.jsonl import envelope
from streams.progress import wait_while_moving
from streams.settings import Settings
from tests.integration.helpers import STALL, isolated, running_worker
from workbench.playback import produce
from workbench.simulator.jinshan import Params, generate


@pytest.fixture
def chromium() -> Iterator[webdriver.Chrome]:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert browser and driver, "chromium and chromedriver are missing; `make deps` installs them"
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()


def number(chrome: webdriver.Chrome, element_id: str) -> int | None:
    text = chrome.find_element(By.ID, element_id).text.replace(",", "")
    return int(text) if text.isdigit() else None


def test_the_board_fills_in_and_moves_while_the_simulator_runs(
    stack_settings: Settings, services: None, chromium: webdriver.Chrome, tmp_path: Path
) -> None:
    records = [envelope(topic, event) for topic, event in generate(Params(seed=1)).events]
    with isolated(stack_settings) as settings, running_worker(settings, tmp_path) as worker:
        chromium.get(worker.board_url())
        assert number(chromium, "total_entries") in (None, 0)  # nothing yet
        sender = threading.Thread(
            target=produce, args=(settings, records, len(records)), kwargs={"label": "board"}
        )
        sender.start()
        totals: list[int] = []

        def filled() -> bool:
            total = number(chromium, "total_entries")
            if total is not None and (not totals or total != totals[-1]):
                totals.append(total)
            decisions = chromium.find_elements(By.CSS_SELECTOR, "#decisions tr")
            alerts = chromium.find_elements(By.CSS_SELECTOR, "#alerts tr")
            enough = (number(chromium, "positives") or 0) >= 1 and len(totals) >= 3
            return enough and len(decisions) >= 10 and bool(alerts)

        wait_while_moving(
            filled,
            lambda: (worker.signs(), len(totals)),
            what=f"the board to fill in (totals {totals})",
            stall=STALL,
        )
        # 2022's data: the board's clock is the data's, not the wall clock (issue 20).
        assert chromium.find_element(By.ID, "asof").text.startswith("as of 2022-")
        assert chromium.find_element(By.ID, "day").text.split()[-1].startswith("2022-")
        screenshot = tmp_path / "gate-board.png"
        chromium.save_screenshot(str(screenshot))
        sender.join()
    assert totals == sorted(totals) and totals[0] < totals[-1]  # it moved, upward
    print(f"\ngate board screenshot: {screenshot} (entries seen: {totals[:3]} ... {totals[-1]})")
    assert screenshot.stat().st_size > 10_000
