"""The report of the two modalities beyond tables: a forecasting run (the test period over time, persistence,
residuals over time) and an image run (a grid of test images, the most confident mistakes, no feature importance),
each checked in the DOM, for inline images only, and (images) drawn by headless Chromium.

Runs are tiny (5 and 3 epochs, 600 digits) and scikit-learn's OpenMP threads are limited to one: plots, not
quality, are tested here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.report_page import CLASSIFICATION, COMMON, IMAGE_URIS, REGRESSION, Page, chromium, needs_chromium
from PIL import Image

import deepwise
from deepwise.render import plots
from deepwise.report import report, report_context

WEATHER = str(Path(__file__).resolve().parents[1] / "examples" / "weather" / "weather_prediction_dataset.csv")
FORECAST = {"forecast", "forecast-residuals"}
IMAGES = {"image-grid", "confident-mistakes", "inside-network"}


def _train(config: dict, runs_dir):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="openmp"):
        return deepwise.train(config, runs_dir=runs_dir, verbose=False, force=True)


def _weather() -> pd.DataFrame:
    columns = ["DATE", "BASEL_sunshine", "BASEL_temp_mean", "BASEL_pressure", "BASEL_precipitation"]
    return pd.read_csv(WEATHER, usecols=columns).head(700)


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("forecast")
    csv = base / "weather.csv"
    _weather().drop(columns="BASEL_precipitation").to_csv(csv, index=False)
    config = {
        "problem": {"target": "BASEL_sunshine", "task": "forecasting"},
        "data": {"path": str(csv), "time_column": "DATE"},
        "training": {"epochs": 5},
    }
    return _train(config, base / "runs")


@pytest.fixture(scope="module")
def rain_run(tmp_path_factory):
    """A binary forecast: will it rain in Basel the next day?"""
    base = tmp_path_factory.mktemp("rain")
    df = _weather()
    df["rain"] = np.where(df.pop("BASEL_precipitation") > 0, "rain", "dry")
    csv = base / "rain.csv"
    df.to_csv(csv, index=False)
    config = {
        "problem": {"target": "rain", "task": "forecasting", "output": "binary"},
        "data": {"path": str(csv), "time_column": "DATE"},
        "training": {"epochs": 5},
    }
    return _train(config, base / "runs")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """scikit-learn's 8x8 digits (60 per class) as PNG files in one folder per class."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = tmp_path_factory.mktemp("digits") / "digits"
    pixels = (digits.images * 255 / 16).astype(np.uint8)
    for label in range(10):
        folder = root / str(label)
        folder.mkdir(parents=True)
        for i in np.flatnonzero(digits.target == label)[:60]:
            Image.fromarray(pixels[i]).save(folder / f"{i}.png")
    config = {"problem": {"target": "label"}, "data": {"path": str(root)}, "training": {"epochs": 3}}
    return _train(config, root.parent / "runs")


def _check_page(page: Page, expected: set[str], min_images: int) -> None:
    assert expected <= set(page.sections), expected - set(page.sections)
    assert page.scripts == 0 and page.external == []  # opens offline, runs no code
    assert len(page.images) >= min_images
    assert all(src.startswith(IMAGE_URIS) and len(src) > 2000 for src in page.images)


def _figures(html: str, section_id: str) -> int:
    start = html.index(f'<section id="{section_id}">')
    return html[start : html.index("</section>", start)].count('<img src="data:image/png;base64,')


def test_forecast_report(forecast_run):
    assert forecast_run.metrics["task"] == "forecasting" and forecast_run.metrics["output"] == "regression"
    html = report(forecast_run.path).read_text(encoding="utf-8")
    page = Page(html)
    _check_page(page, COMMON | FORECAST | REGRESSION, min_images=8)
    ids = list(page.sections)
    assert ids.index("forecast") < ids.index("forecast-residuals") < ids.index("predicted-vs-true")
    assert _figures(html, "forecast") >= 1 and _figures(html, "forecast-residuals") == 1
    forecast = page.section_text("forecast")
    assert (
        f"{forecast_run.metrics['test']['n']} forecasts of 'BASEL_sunshine'" in forecast and "persistence" in forecast
    )
    assert "not available" not in forecast and "not available" not in page.section_text("forecast-residuals")
    assert "forecasting (regression) run" in page.section_text("summary")
    card = (forecast_run.path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "| DATE | time |" in card and "recent_rows.csv" in card and "one test period" in card


def test_forecast_times_and_persistence(forecast_run):
    """The plotted test period is the run's: its times lie in metrics' test_period, persistence = the previous day."""
    from deepwise.kinds.series.report import forecast_test

    ctx = report_context(forecast_run)
    ft = forecast_test(ctx)
    assert not isinstance(ft, str), ft
    first, last = (pd.Timestamp(t) for t in forecast_run.metrics["forecast"]["test_period"])
    times = pd.to_datetime(ft.times)
    assert times.is_monotonic_increasing and times[0] >= first and times[-1] <= last
    assert len(ft.y_true) == len(ft.output) == len(times) == forecast_run.metrics["test"]["n"]
    np.testing.assert_allclose(ft.naive["persistence"][1:], ft.y_true[:-1], rtol=1e-6)  # horizon 1: the last value


def test_binary_forecast_report(rain_run):
    assert rain_run.metrics["output"] == "binary"
    page = Page(report(rain_run.path).read_text(encoding="utf-8"))
    _check_page(page, COMMON | {"forecast"} | CLASSIFICATION, min_images=8)
    assert "forecast-residuals" not in page.sections  # residuals over time are for numeric forecasts
    assert "probability that 'rain' is 'rain'" in page.section_text("forecast")


def test_image_report(digits_run):
    assert digits_run.metrics["task"] == "image_classification"
    assert "feature_importance" not in digits_run.metrics
    html = report(digits_run.path).read_text(encoding="utf-8")
    page = Page(html)
    _check_page(page, COMMON | IMAGES | CLASSIFICATION, min_images=9)
    assert _figures(html, "image-grid") == 1
    for section in ("image-grid", "confident-mistakes", "roc-curves", "calibration"):
        assert "not available" not in page.section_text(section), section
    n_test = digits_run.metrics["test"]["n"]
    grid = page.section_text("image-grid")
    assert "of the 24 images shown are misclassified" in grid and f"of {n_test} images" in grid
    mistakes = page.section_text("confident-mistakes")
    if digits_run.metrics["test"]["accuracy"] < 1.0:
        assert _figures(html, "confident-mistakes") == 1 and "P(predicted)" in mistakes and ".png" in mistakes
    else:
        assert "classified all" in mistakes
    assert "not measured for images" in page.section_text("feature-importance")
    inside = page.section_text("inside-network")  # issue 25: how each layer may look, and where it looked
    conv_layers = [layer for layer in digits_run.model.layers if type(layer).__name__.startswith(("Conv2D", "MaxP"))]
    saliency_maps = 1 + (digits_run.metrics["test"]["accuracy"] < 1)  # most confident right, and wrong if any
    assert _figures(html, "inside-network") == min(4, len(conv_layers)) + saliency_maps
    assert "most confident right" in inside and "SmoothGrad" in inside and "deepwise explain" in inside
    guard = page.section_text("guard")
    assert "embeddings" in guard and "false-alarm rate" in guard and "category never seen" not in guard
    assert "An image classification run" in page.section_text("summary")
    card = (digits_run.path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "from one image (resized to 8x8 pixels, grayscale)" in card and "new_images/" in card
    assert "`ood` true" in card and "Input rows need the columns" not in card


@pytest.mark.slow  # a browser (10 s): the table report's chromium test stays in the fast suite
@needs_chromium
def test_image_report_renders_inchromium(digits_run, tmp_path):
    from PIL import Image as PILImage

    path = report(digits_run.path)
    url = path.resolve().as_uri()
    dom = chromium("--dump-dom", url, tmp_path=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert COMMON | IMAGES | CLASSIFICATION <= set(Page(dom.stdout).sections)
    png = tmp_path / "images.png"
    shot = chromium(f"--screenshot={png}", "--window-size=1280,4000", url, tmp_path=tmp_path)
    assert shot.returncode == 0 and png.is_file(), shot.stderr[-2000:]
    pixels = np.asarray(PILImage.open(png).convert("L"))
    assert pixels.shape == (4000, 1280)
    assert len(np.unique(pixels)) > 50  # not a blank or single-colour page
    non_white = float((pixels < 245).mean())
    assert 0.05 < non_white < 0.9, non_white


def test_image_report_when_the_data_is_gone(digits_run, tmp_path):
    copy = tmp_path / "moved"
    shutil.copytree(digits_run.path, copy)
    config = (copy / "config.yaml").read_text()
    old = str(digits_run.config.data.path)
    (copy / "config.yaml").write_text(config.replace(old, str(tmp_path / "gone")))
    page = Page(report(copy).read_text(encoding="utf-8"))
    assert IMAGES | {"confusion-matrix", "learning-curves", "guard"} <= set(page.sections)
    assert "not available" in page.section_text("image-grid")
    assert "not available" in page.section_text("confident-mistakes")
    assert "not available" in page.section_text("inside-network")


# ------------------------------------------------------------------------------------ plots on synthetic arrays


def _png_size(uri: str) -> tuple[int, int]:
    import base64
    import io

    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).size


def test_forecast_plots_on_dates_and_numbers():
    rng = np.random.default_rng(0)
    n = 400
    dates = pd.date_range("2024-01-01", periods=n, freq="h").to_numpy()
    truth = np.sin(np.arange(n) / 10) + rng.normal(0, 0.1, n)
    for times in (dates, np.arange(n)):
        uri = plots.forecast_chart(
            times, truth, {"network": truth * 0.9, "persistence": np.roll(truth, 1)}, title="t", ylabel="y"
        )
        assert uri.startswith("data:image/png;base64,")
        assert plots.residuals_over_time(times, {"network": truth * 0.1}, title="r").startswith("data:image/png")
        proba = rng.dirichlet(np.ones(4), n)
        uri = plots.forecast_class_chart(
            times, proba, rng.integers(0, 4, n), list("abcd"), naive=rng.integers(0, 4, n), title="c"
        )
        assert _png_size(uri)[0] == 1100
        binary = plots.forecast_probability_chart(
            times,
            proba[:, 0],
            rng.integers(0, 2, n),
            positive="yes",
            negative="no",
            naive={"p": rng.integers(0, 2, n)},
            title="b",
        )
        assert binary.startswith("data:image/png;base64,")


def test_image_grid_colour_and_grayscale():
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0, 255, (7, 32, 40, 3)).astype(np.float32)
    gray = rng.uniform(0, 255, (3, 64, 64, 1)).astype(np.float32)
    for pixels in (rgb, gray):
        uri = plots.image_grid(
            pixels, [f"pred {i}\ntrue {i}" for i in range(len(pixels))], [True, False] * 4, title="g"
        )
        assert uri.startswith("data:image/png;base64,") and len(uri) > 2000
