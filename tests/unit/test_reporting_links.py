"""Where reports are and how alerts link to them: run-report anchors, one per alert, whatever
its ids hold, and the URLs alerts carry."""
from __future__ import annotations

import itertools
import re

from watchlist_screening.reporting import links
from watchlist_screening.reporting.links import alert_anchor


def test_ids_that_split_differently_get_different_anchors():
    assert alert_anchor("LHR-1--X", "S") != alert_anchor("LHR-1", "X--S")
    assert alert_anchor("A-", "B") != alert_anchor("A", "-B")
    assert alert_anchor("A B", "C") != alert_anchor("A/B", "C") != alert_anchor("A_B", "C")


def test_anchor_is_injective_over_awkward_ids():
    parts = ["", "-", "--", "A", "A-", "-A", "A-B", "A--B", "A_B", "A_2dB", "A.B", "A B", "é", "_e9", "ü",
             "\ud800", "LHR-1", "X--S", "LHR-1--X", "S", "a\u202eb"]
    pairs = list(itertools.product(parts, repeat=2))
    anchors = {alert_anchor(a, b) for a, b in pairs}
    assert len(anchors) == len(pairs)
    # usable as an HTML id and a URL fragment without escaping
    assert all(re.fullmatch(r"alert-[A-Za-z0-9._-]*", a) for a in anchors)


def test_plain_ids_keep_their_spelling():
    assert alert_anchor("LHR-20261121-0000007", "FBI-0000123") == "alert-LHR-20261121-0000007--FBI-0000123"


def test_urls_alerts_carry():
    run = links.report_url(links.run_report_path("/srv/reports", "2026-11-21"), "http://h:8088/reports/")
    assert run == "http://h:8088/reports/run-2026-11-21.html"
    url = links.alert_report_url(run, "LHR-20261121-0000007", "FBI-0000123")
    assert url == "http://h:8088/reports/run-2026-11-21.html#alert-LHR-20261121-0000007--FBI-0000123"
    assert links.report_url(links.model_report_path("/srv/reports", "v1")) == "file:///srv/reports/v1.html"
