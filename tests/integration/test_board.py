"""The live gate board, in Debian's headless Chromium (driven by Selenium): while the jinshan-2022
simulation runs through the pipeline the numbers fill in and change, and a screenshot of the
filled board is saved (its path is printed); a held truck appears in its gate's queue, and the
officer's release from the board makes the new decision revision and takes it off the queue; a
worker whose board port is taken runs on and serves the board once the port is free."""

from __future__ import annotations

import base64
import json
import socket
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By

from streams import access
from streams.jsonl import envelope
from streams.progress import wait_while_moving
from streams.settings import Settings
from tests.integration import story
from tests.integration.helpers import (
    STALL,
    isolated,
    off_screen,
    on_screen,
    poll_query,
    running_worker,
    send_events,
)
from workbench.demo import announced_board
from workbench.playback import produce
from workbench.simulator.jinshan import Params, generate


def number(chrome: webdriver.Chrome, element_id: str) -> int | None:
    text = chrome.find_element(By.ID, element_id).text.replace(",", "")
    return int(text) if text.isdigit() else None


def post(url: str, body: dict[str, str], authorization: str | None = None) -> int:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def operator(password: str) -> str:
    return "Basic " + base64.b64encode(f"operator:{password}".encode()).decode()


def test_no_one_releases_a_held_truck_without_the_operators_credential_even_on_loopback(
    stack_settings: Settings, services: None, tmp_path: Path
) -> None:
    """Issue 29's finding: with the default settings (board on loopback, no
    SENTINEL_HTTP_PASSWORD) a plain POST released a held truck as "nobody-1". Every action needs
    the operator's credential, which the local stack made (``secrets/http-operator``)."""
    (driver,) = story.people(1)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    held = story.entry("nocred-1", [driver], at=at, nat_ages=[None], hazmat=False)
    with isolated(stack_settings) as settings, running_worker(settings, tmp_path) as worker:
        assert not settings.http_password.get_secret_value()  # the default: none set
        password = access.board_password(settings)
        assert len(password) >= 20  # the stack's, made by `stack up`
        send_events(settings, [held], "a truck held at the gate")
        board = worker.board_url()

        def queued() -> bool:
            with urllib.request.urlopen(f"{board}api/board", timeout=10) as answer:
                shown = json.loads(answer.read())
            return any(h["entry_id"] == "nocred-1" for q in shown["held"].values() for h in q)

        wait_while_moving(queued, worker.signs, what="the held truck in its queue", stall=STALL)
        url = f"{board}api/entries/nocred-1/resolve"
        release = {"action": "released_after_check", "officer": "nobody-1", "reason": "x"}
        assert post(url, release) == 401
        assert post(url, release, operator("guess")) == 401
        assert post(url, release, "Bearer " + password) == 401
        acknowledged = f"{board}api/alerts/anything/acknowledge"
        assert post(acknowledged, {"officer": "nobody-1"}) == 401
        assert post(url, release | {"officer": "officer.wang"}, operator(password)) == 202
        revisions = poll_query(
            settings,
            "SELECT revision, outcome, officer FROM decisions FINAL "
            "WHERE entry_id = %(id)s ORDER BY revision",
            {"id": "nocred-1"},
            rows=2,
        )
    assert revisions == [(0, "hold", ""), (1, "release", "officer.wang")]  # never nobody-1


def test_the_board_fills_in_and_moves_while_the_simulator_runs_in_the_parks_language(
    stack_settings: Settings, services: None, chromium: webdriver.Chrome, tmp_path: Path
) -> None:
    records = [envelope(topic, event) for topic, event in generate(Params(seed=1)).events]
    with (
        isolated(stack_settings) as settings,
        running_worker(settings, tmp_path, language="zh") as worker,
    ):
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
            enough = len(totals) >= 3 and len(decisions) >= 10 and bool(alerts)
            return enough and number(chromium, "positives_today") is not None

        wait_while_moving(
            filled,
            lambda: (worker.signs(), len(totals)),
            what=f"the board to fill in (totals {totals})",
            stall=STALL,
        )
        # 2022's data: the board's clock is the data's, not the wall clock (issue 20); in
        # Chinese, the jinshan park's language, every label from the catalogue.
        assert chromium.find_element(By.ID, "asof").text.startswith("截至 2022-")
        assert chromium.find_element(By.ID, "day").text.split()[-1].startswith("2022-")
        assert chromium.title == "门卫哨兵 — 闸口看板"
        assert chromium.find_element(By.ID, "heldtitle").text == "闸口拦停车辆"
        outcomes = set(  # read at once: the board redraws its tables each second
            chromium.execute_script(
                "return [...document.querySelectorAll('#decisions td')].map(e => e.textContent)"
            )
        )
        assert outcomes & {"放行", "拦停", "禁止"} and not outcomes & {"release", "hold", "deny"}
        screenshot = tmp_path / "gate-board.png"
        chromium.save_screenshot(str(screenshot))
        sender.join()
    assert totals == sorted(totals) and totals[0] < totals[-1]  # it moved, upward
    print(f"\ngate board screenshot: {screenshot} (entries seen: {totals[:3]} ... {totals[-1]})")
    assert screenshot.stat().st_size > 10_000


def test_an_officer_releases_a_held_truck_from_its_gates_queue_in_the_browser(
    stack_settings: Settings, services: None, chromium: webdriver.Chrome, tmp_path: Path
) -> None:
    driver, *crew = story.people(3)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    # Let in two hours ago, a hazmat truck with its crew's antigens: inside, on its 6 h clock.
    entered = at - timedelta(hours=2)
    inside = [
        story.entry("bq-in", crew, at=entered, plate="沪A55555"),
        *(story.antigen(f"bq-ag-{n}", who, entered) for n, who in enumerate(crew)),
    ]
    # No NAT on record: held at the gate (nat_48h), in jinshanwei-1's queue.
    held = story.entry("bq-1", [driver], at=at, nat_ages=[None], hazmat=False, plate="沪A77777")
    with isolated(stack_settings) as settings, running_worker(settings, tmp_path) as worker:
        send_events(settings, [*inside, held], "a truck let in, a truck held at the gate")
        chromium.get(worker.board_url())
        clock = wait_while_moving(
            lambda: next(
                (r.text for r in chromium.find_elements(By.CSS_SELECTOR, "#inside tr")), None
            ),
            worker.signs,
            what="the truck let in, inside the park",
            stall=STALL,
            interval=0.5,
        )
        assert clock.split()[:2] == ["沪A55555", "jinshanwei-1"]
        assert "2 h" in clock and clock.endswith("6 h 0 min")  # inside 2 h of its 6 h cap
        row = '.card[data-entry="bq-1"]'
        found = on_screen(chromium, row, worker.signs, "the held truck in its gate's queue")
        gate = found.find_element(By.XPATH, "ancestor::div[@class='gate']")
        assert gate.get_attribute("data-gate") == "jinshanwei-1"
        assert "沪A77777" in found.text and "no negative NAT" in found.text
        found.find_element(By.TAG_NAME, "summary").click()  # "resolve…"
        found.find_element(By.NAME, "officer").send_keys("officer.zhang")
        found.find_element(By.NAME, "reason").send_keys("NAT report on paper, checked")
        found.find_element(By.NAME, "password").send_keys(access.board_password(settings))
        screenshot = tmp_path / "gate-queue.png"
        chromium.save_screenshot(str(screenshot))
        found.find_element(By.TAG_NAME, "button").click()
        off_screen(chromium, row, worker.signs, "the released truck to leave the queue")
        revisions = poll_query(
            settings,
            "SELECT revision, outcome, resolution_action, officer FROM decisions FINAL "
            "WHERE entry_id = %(id)s ORDER BY revision",
            {"id": "bq-1"},
            rows=2,
        )
    assert revisions == [
        (0, "hold", "", ""),
        (1, "release", "released_after_check", "officer.zhang"),
    ]
    print(f"\ngate queue screenshot: {screenshot}")


def test_a_gate_with_40_held_trucks_holds_on_a_1920x1080_wall_screen_without_scrolling(
    stack_settings: Settings, services: None, chromium: webdriver.Chrome, tmp_path: Path
) -> None:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=45)
    held = [
        story.entry(
            f"wall-{n}",
            [driver],
            at=at + timedelta(minutes=n),
            nat_ages=[None],
            hazmat=False,
            plate=f"沪A{10000 + n}",
        )
        for n, driver in enumerate(story.people(40))
    ]
    held.append(
        story.entry(
            "elsewhere",
            story.people(1),
            at=at,
            nat_ages=[None],
            hazmat=False,
            plate="沪B00001",
            gate="tinglin-1",
        )
    )
    with (
        isolated(stack_settings) as settings,
        running_worker(settings, tmp_path, language="zh") as worker,
    ):
        send_events(settings, held, "41 trucks held, 40 at one gate")
        chromium.execute_cdp_cmd(  # the wall screen's viewport, not a window with its frame
            "Emulation.setDeviceMetricsOverride",
            {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False},
        )
        chromium.get(f"{worker.board_url()}?gate=jinshanwei-1")
        cards = wait_while_moving(
            lambda: (
                found
                if len(found := chromium.find_elements(By.CSS_SELECTOR, ".card")) >= 40
                else None
            ),
            worker.signs,
            what="40 held trucks in the gate's view",
            stall=STALL,
            interval=0.5,
        )
        assert len(cards) == 40  # this gate's only: tinglin-1's truck is not in its view
        assert worker.metric("sentinel_board_screens") == 1  # pushed to it, not polled
        assert "沪B00001" not in chromium.find_element(By.ID, "held").text
        assert "放行需要：现场抗原检测阴性" in cards[0].text  # what releases it, in Chinese
        inner, scrolled, wide, width = chromium.execute_script(
            "return [window.innerHeight, document.documentElement.scrollHeight,"
            " document.documentElement.scrollWidth, window.innerWidth]"
        )
        screenshot = tmp_path / "gate-view-40-held.png"
        chromium.save_screenshot(str(screenshot))
    print(
        f"\ngate view screenshot: {screenshot} (viewport {width}x{inner}, page {wide}x{scrolled})"
    )
    assert scrolled <= inner and wide <= width, "the gate's view needs scrolling"


def test_a_worker_whose_board_port_is_taken_decides_on_and_serves_once_the_port_is_free(
    stack_settings: Settings, services: None, tmp_path: Path
) -> None:
    # Tried as a new user: with port 9464 taken the worker never tried the port again, and the
    # demo printed the board's URL from an older run's log line.
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        with (
            isolated(stack_settings) as settings,
            running_worker(settings, tmp_path, http_port=str(port)) as worker,
        ):  # ready: the pipeline runs without its board

            def said() -> str | None:
                return announced_board(worker.log_file.read_text(), worker.process.pid)

            refused = wait_while_moving(said, worker.signs, what="the taken port said", stall=STALL)
            assert refused.startswith(f"not served: 127.0.0.1:{port} is taken")
            taken.close()
            url = wait_while_moving(
                lambda: (u := said()) and u.startswith("http") and u,
                worker.signs,
                what="the board on the freed port",
                stall=STALL,
            )
            assert url == f"http://127.0.0.1:{port}/"
            with urllib.request.urlopen(f"{url}api/board", timeout=10) as response:
                assert json.loads(response.read())["language"] == "en"
    finally:
        taken.close()
