"""The report's SVG charts (pygal): well-formed, script-free, labelled, and robust to gaps and large inputs."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from deepwise.render import charts


def svg_of(uri: str) -> str:
    assert uri.startswith("data:image/svg+xml;base64,")
    svg = base64.b64decode(uri.split(",", 1)[1]).decode("utf-8")
    ET.fromstring(svg)  # well-formed XML, nested charts included
    assert "<script" not in svg and 'href="http' not in svg  # runs nothing, fetches nothing
    return svg


RNG = np.random.default_rng(0)


def all_charts() -> dict[str, str]:
    items = [{"x": np.r_[0, np.sort(RNG.random(20)), 1], "y": np.r_[0, np.sort(RNG.random(20)), 1], "label": c}
             for c in ("Adelie vs rest", "Gentoo vs rest")]  # fmt: skip
    y = RNG.normal(100, 20, 300)
    return {
        "line": charts.line_chart(
            {"train": [1.0, 0.5, 0.4], "validation": [1.1, np.nan, 0.6]}, title="Loss per epoch", marker_x=3
        ),  # fmt: skip
        "confusion": charts.confusion_chart([[20, 1], [2, 15]], ["Adelie", "Gentoo"], title="true vs predicted"),
        "curves": charts.curves(
            items, title="ROC", xlabel="false positive rate", ylabel="true positive rate", diagonal=True
        ),  # fmt: skip
        "calibration": charts.calibration_chart(items[:1], RNG.random(50), title="Calibration", xlabel="confidence"),
        "scatter": charts.scatter_true_pred(y, y + RNG.normal(0, 5, 300), title="predicted vs true"),
        "residuals": charts.residual_chart(y, y + RNG.normal(0, 5, 300), title="residuals"),
        "bars": charts.bar_chart(
            ["bill_length_mm", "island"],
            [0.3, -0.01],
            errors=[0.02, 0.01],
            title="importance",
            xlabel="drop in accuracy",
        ),  # fmt: skip
        "intervals": charts.interval_chart(
            [{"label": "vs linear", "value": 0.01, "low": -0.02, "high": 0.04}],
            title="difference",
            xlabel="network minus baseline",
        ),  # fmt: skip
    }


@pytest.mark.parametrize("name", list(all_charts()))
def test_every_chart_is_a_script_free_svg_with_its_words(name):
    svg = svg_of(all_charts()[name])
    words = {
        "line": ["Loss per epoch", "best epoch (3)", "validation"],
        "confusion": ["Adelie", "Gentoo", "predicted class", ">20<"],
        "curves": ["Adelie vs rest", "random guess"],
        "calibration": ["perfectly calibrated", "confidence", "rows"],
        "scatter": ["perfect prediction (y = x)"],
        "residuals": ["distribution of residuals"],
        "bars": ["bill_length_mm", "island", "drop in accuracy"],
        "intervals": ["vs linear", "network minus baseline"],
    }[name]
    missing = [w for w in words if w not in svg]
    assert not missing, missing


def test_log_scale_is_labelled_with_the_values():
    losses = {"train": np.logspace(0, -4, 50), "validation": np.logspace(0, -3, 50)}
    svg = svg_of(charts.line_chart(losses, title="loss", log_y=True))
    for label in (">1<", ">0.1<", ">0.001<"):
        assert label in svg


def test_a_large_scatter_shows_a_sample_and_says_so():
    y = RNG.normal(size=20_000)
    svg = svg_of(charts.scatter_true_pred(y, y, title="t"))
    assert f"({charts.MAX_POINTS:,} of 20,000 rows shown)" in svg
    assert svg.count("<circle") <= charts.MAX_POINTS + 10
