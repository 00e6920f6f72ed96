"""The review page in a real browser: Debian's Chromium, headless, driven over the DevTools
protocol, against a real replica on a throw-away database. A reviewer logs in, reads
today's alerts with their evidence, confirms one and rejects another; forged and
cross-site requests change nothing."""
from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests

from tests.devtools import Browser


pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]

PIPELINE_TOKEN, REVIEWER_TOKEN = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
TODAY = dt.datetime.now(dt.timezone.utc).date().isoformat()
XSS = '<img src=x onerror="document.title=\'pwned\'">'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def service(stack_db, tmp_path_factory) -> Iterator[str]:
    """A replica on its own database (today's alerts are this test's alone)."""
    from tests.conftest import migrated_database

    with migrated_database(stack_db["ALERTS_DB_DSN"], "alerts") as dsn:
        yield from _replica(dsn, tmp_path_factory)


def _replica(dsn: str, tmp_path_factory) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTS_")}
    env.update(ALERTS_DB_DSN=dsn, ALERTS_PIPELINE_TOKEN=PIPELINE_TOKEN, ALERTS_REVIEWER_TOKEN=REVIEWER_TOKEN)
    log = tmp_path_factory.mktemp("browser") / "replica.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "alerting_service", "--port", str(port), "--shutdown-timeout", "5"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture
def browser() -> Iterator[Browser]:
    started = Browser(width=1280, height=1600)  # a fresh profile every time
    yield started
    started.close()  # and its profile


def an_alert(scan_id: str, day: str = TODAY, **fields) -> dict:
    return {"scan_id": scan_id, "subject_id": "W-17", "airport": "LHR", "date": day, "match_probability": 0.991,
            "match_weight": 14.2, "model_version": "model-2026-11", "photo_similarity": 0.87, "group_id": "g-3",
            "evidence": {"face": 9.4, "surname": 2.1, "date_of_birth": -1.3},
            "passenger": {"given_names": "Ann", "surname": "Lee", "date_of_birth": "1980-02-03", "height_cm": 171},
            "subject": {"given_names": "Anne", "surname": "Leigh", "date_of_birth": "1980-03-02", "height_cm": 172},
            "run_report_url": "https://reports.example/2026-11-23.html", **fields}


def post(url: str, alert: dict) -> str:
    response = requests.post(f"{url}/v1/alerts", json=alert, headers={"Authorization": f"Bearer {PIPELINE_TOKEN}"},
                             timeout=10)
    assert response.status_code == 202, response.text
    return response.json()["results"][0]["alert_id"]


def api(url: str, path: str) -> dict | list:
    return requests.get(f"{url}{path}", headers={"Authorization": f"Bearer {REVIEWER_TOKEN}"}, timeout=10).json()


def log_in(browser: Browser, url: str, token: str = REVIEWER_TOKEN) -> None:
    browser.load(f"{url}/review")
    assert browser.js("location.pathname") == "/review/login"
    browser.fill("input[name=reviewer]", "Ann Reviewer")
    browser.fill("input[name=token]", token)
    browser.click_and_load("form.login button")


def test_a_reviewer_logs_in_reads_todays_alerts_and_decides(service, browser, tmp_path):
    older = post(service, an_alert("B-older"))
    newer = post(service, an_alert("B-newer", passenger={"surname": XSS}, run_report_url="javascript:alert(1)"))
    post(service, an_alert("B-yesterday", day=(dt.date.fromisoformat(TODAY) - dt.timedelta(days=1)).isoformat()))

    log_in(browser, service, token="not-the-token")
    assert browser.js("location.pathname") == "/review/login"
    assert browser.js("document.querySelector('.error').textContent") == "That is not a reviewer token."

    log_in(browser, service)
    assert browser.js("location.pathname") == "/review"
    # Today's alerts only, newest first, each with both records and the evidence.
    ids = browser.js("[...document.querySelectorAll('article.alert')].map(a => a.dataset.alertId)")
    assert ids == [newer, older]
    card = f"#alert-{older}"
    assert browser.js(f"document.querySelector('{card} .probability').textContent") == "0.9910"
    rows = browser.js(f"[...document.querySelectorAll('{card} table.records tbody tr')]"
                      ".map(r => [...r.children].map(c => c.textContent))")
    assert ["surname", "Lee", "Leigh"] in rows and ["height cm", "171", "172"] in rows
    evidence = browser.js(f"[...document.querySelectorAll('{card} table.evidence tbody tr')]"
                          ".map(r => [...r.children].map(c => c.textContent))")
    assert evidence == [["face", "+9.40"], ["surname", "+2.10"], ["date of birth", "-1.30"]]
    assert browser.js(f"document.querySelector('{card} a[href]').href") == "https://reports.example/2026-11-23.html"
    # The session cookie is out of the page's reach; hostile alert content stays text.
    assert browser.js("document.cookie") == ""
    assert browser.js("document.querySelectorAll('main img').length") == 0
    assert XSS in browser.js(f"document.querySelector('#alert-{newer} table.records').textContent")
    assert browser.js(f"document.querySelector('#alert-{newer} a[href^=javascript]')") is None
    assert browser.js("document.title") != "pwned"

    browser.fill(f"{card} textarea[name=note]", "Same face, date of birth swapped")
    browser.click_and_load(f"{card} button[value=confirmed]")
    browser.click_and_load(f"#alert-{newer} button[value=false_positive]")
    browser.screenshot(tmp_path / "review.png")

    statuses = browser.js("[...document.querySelectorAll('article.alert')].map(a => a.querySelector('.badge').textContent)")
    assert statuses == ["false positive", "confirmed"]
    assert "by Ann Reviewer" in browser.js(f"document.querySelector('{card} .decided').textContent")
    trail = api(service, f"/v1/alerts/{older}/reviews")
    assert [(r["decision"], r["reviewer"], r["note"]) for r in trail] == [
        ("confirmed", "Ann Reviewer", "Same face, date of birth swapped")]
    assert api(service, f"/v1/alerts/{newer}")["status"] == "false_positive"

    # Filtering to what is still open hides both.
    browser.load(f"{service}/review?date={TODAY}&status=new")
    assert browser.js("document.querySelectorAll('article.alert').length") == 0

    browser.click_and_load("form.account button")  # log out
    assert browser.js("location.pathname") == "/review/login"
    browser.load(f"{service}/review")
    assert browser.js("location.pathname") == "/review/login"


def test_a_cross_site_form_cannot_decide_for_a_logged_in_reviewer(service, browser):
    target = post(service, an_alert("B-csrf"))
    log_in(browser, service)
    # A page on another site posting to the review page, with the reviewer's browser.
    attack = (f'<form method="post" action="{service}/review/alerts/{target}">'
              '<input name="decision" value="confirmed"><input name="csrf" value="guess"></form>'
              "<script>document.forms[0].submit()</script>")
    browser.load("data:text/html," + quote(attack))
    deadline = time.monotonic() + 15
    while browser.js("location.href").startswith("data:"):  # until the form has landed
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # SameSite=Strict: the session cookie stayed home, so the review page saw no reviewer.
    assert browser.js("location.pathname") == "/review/login"
    assert api(service, f"/v1/alerts/{target}")["status"] == "new"


def test_the_decision_form_needs_the_session_its_token_and_this_origin(service):
    target = post(service, an_alert("B-forms"))
    session = requests.Session()
    landed = session.post(f"{service}/review/login", data={"reviewer": "Ann", "token": REVIEWER_TOKEN}, timeout=10)
    assert landed.url.endswith("/review") and landed.status_code == 200
    csrf = landed.text.split('name="csrf" value="')[1].split('"')[0]
    form = {"decision": "confirmed", "csrf": csrf}
    decide = f"{service}/review/alerts/{target}"

    assert requests.post(decide, data=form, allow_redirects=False, timeout=10).headers["location"] == "/review/login"
    assert session.post(decide, data={**form, "csrf": "forged"}, timeout=10).status_code == 403
    assert session.post(decide, data=form, headers={"Origin": "https://evil.example"}, timeout=10).status_code == 403
    assert session.post(decide, data={**form, "note": "x" * 2001}, timeout=10).status_code == 422
    assert session.post(f"{service}/review/alerts/{uuid.uuid4()}", data=form, timeout=10).status_code == 404
    assert api(service, f"/v1/alerts/{target}")["status"] == "new"

    accepted = session.post(decide, data=form, headers={"Origin": service}, allow_redirects=False, timeout=10)
    assert accepted.status_code == 303
    assert api(service, f"/v1/alerts/{target}")["status"] == "confirmed"
    page = session.get(f"{service}/review", timeout=10)
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["Cache-Control"] == "no-store"
    # Only reviewer tokens open a session.
    refused = requests.post(f"{service}/review/login", data={"reviewer": "P", "token": PIPELINE_TOKEN}, timeout=10)
    assert refused.status_code == 401
