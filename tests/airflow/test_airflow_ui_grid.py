"""The Airflow UI serves the DAG: a person logs in on the login page (SimpleAuthManager) in
headless Chromium and sees the grid of watchlist_screening with its tasks and runs. The
screenshot is kept in .local/screenshots/airflow-grid.png."""
from __future__ import annotations

import base64
import json
import shutil
import struct

import pytest

from .conftest import SCREENSHOT_DIR, USER
from tests.devtools import Browser
from .test_airflow_api import TASKS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]

DAG_URL_PATH = "/dags/watchlist_screening"

# Draw the PNG into a canvas and count its colours and the pixels of the grid's success green.
PNG_STATS = """(async (b64) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const bitmap = await createImageBitmap(new Blob([bytes], {type: 'image/png'}));
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, 0, 0);
  const data = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const colours = new Set();
  let green = 0;
  for (let i = 0; i < data.length; i += 4) {
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    if (data[i] < 60 && data[i + 1] > 100 && data[i + 2] < 60) green++;
  }
  return {width: bitmap.width, height: bitmap.height, colours: colours.size, green};
})"""


@pytest.fixture
def browser():
    started = Browser(width=1600, height=1000)
    yield started
    started.close()


def log_in(browser: Browser, url: str, password: str) -> None:
    browser.open(f"{url}{DAG_URL_PATH}")
    # not logged in: the UI sends the person to the login page, remembering where they were going
    browser.wait_for("!!document.querySelector('input[name=username]')", what="the login form")
    assert browser.js("location.pathname") == "/auth/login"
    browser.type_into("input[name=username]", USER)
    browser.type_into("input[name=password]", password)
    browser.wait_for("!document.querySelector('button[type=submit]').disabled", what="the Sign in button")
    browser.js("document.querySelector('button[type=submit]').click()")
    browser.wait_for(f"location.pathname === {json.dumps(DAG_URL_PATH)}", what="the DAG page after login")


def test_the_grid_view_shows_the_dag_its_tasks_and_runs(airflow_ui, browser):
    api = airflow_ui.api()
    runs = api.runs()
    if not runs:  # run on its own: one quick (failing) run so the grid has a column
        run = api.trigger({"landing_dir": str(airflow_ui.home / "nowhere"), "landing_wait_minutes": 0})
        api.wait_for_runs([run["dag_run_id"]], timeout=600)
        runs = api.runs()

    # a wrong password keeps the person on the login page
    browser.open(f"{airflow_ui.url}/auth/login")
    browser.wait_for("!!document.querySelector('input[name=username]')", what="the login form")
    browser.type_into("input[name=username]", USER)
    browser.type_into("input[name=password]", "not-the-password")
    browser.js("document.querySelector('button[type=submit]').click()")
    browser.wait_for("/invalid|incorrect|error/i.test(document.body.innerText)", what="a login error")
    assert browser.js("location.pathname") == "/auth/login"

    log_in(browser, airflow_ui.url, airflow_ui.password)
    browser.js("document.querySelector('#grid-view-button') && document.querySelector('#grid-view-button').click()")
    # the grid: one row per task, one cell per task and run (links into the run's task)
    browser.wait_for("document.querySelectorAll('a[href*=\"/runs/\"][href*=\"/tasks/\"]').length >= "
                     f"{len(TASKS) * len(runs)}", what="a grid cell for every task of every run")
    text = browser.text()
    assert "watchlist_screening" in text
    missing = [task for task in TASKS if not browser.js(f"!!document.querySelector('#task-{task}')")]
    assert not missing, f"grid rows missing for {missing}: {text[:1000]}"
    assert all(task in text for task in TASKS)
    cells = browser.js("[...document.querySelectorAll('a[href*=\"/runs/\"][href*=\"/tasks/\"]')]"
                       ".map(a => decodeURIComponent(a.getAttribute('href')))")
    for run in runs:
        assert any(f"/runs/{run['dag_run_id']}/" in cell for cell in cells), run["dag_run_id"]

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / "airflow-grid.png"
    png = browser.screenshot(path)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1600, 1000)
    stats = browser.js(f"{PNG_STATS}({json.dumps(base64.b64encode(png).decode())})")
    assert stats["width"] == 1600 and stats["colours"] > 200, stats  # a rendered page, not a blank one
    if any(run["state"] == "success" for run in runs):
        assert stats["green"] > 100, stats  # the grid's success cells
