"""The HTML report and the model card of real runs: sections in the DOM, self-contained, and drawn by a real
browser (headless Chromium: --dump-dom and a screenshot that must not be blank).

Runs are trained for 30 epochs (enough for every plot; quality is tested elsewhere) with scikit-learn's OpenMP
threads limited to one: on 2 cores they otherwise fight JAX's threads and the baselines take 10-50 s.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.report_page import CLASSIFICATION, COMMON, IMAGE_URIS, REGRESSION, Page, chromium, needs_chromium

import deepwise
from deepwise.render.common import diagnose_fit
from deepwise.report import report


def train_small(csv: Path, target: str, runs_dir: Path):
    from threadpoolctl import threadpool_limits

    config = {"problem": {"target": target}, "data": {"path": str(csv)}, "training": {"epochs": 30}}
    with threadpool_limits(1, user_api="openmp"):
        return deepwise.train(config, runs_dir=runs_dir, verbose=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, penguins_csv, breast_cancer_csv, diabetes_csv):
    base = tmp_path_factory.mktemp("report-runs")
    return {
        "multiclass": train_small(penguins_csv, "species", base),
        "binary": train_small(breast_cancer_csv, "target", base),
        "regression": train_small(diabetes_csv, "target", base),
    }


@pytest.fixture(scope="module")
def reports(runs):
    return {task: report(run.path) for task, run in runs.items()}


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression"])
def test_report_sections_self_contained(runs, reports, task):
    path = reports[task]
    assert path == runs[task].path / "report.html"
    page = Page(path.read_text(encoding="utf-8"))
    expected = COMMON | (REGRESSION if task == "regression" else CLASSIFICATION)
    assert expected <= set(page.sections), expected - set(page.sections)
    assert page.scripts == 0 and page.external == []  # opens offline, runs no code
    assert len(page.images) >= (8 if task != "regression" else 6)
    assert all(src.startswith(IMAGE_URIS) and len(src) > 2000 for src in page.images)
    assert "Diagnosis:" in page.section_text("learning-curves")
    assert runs[task].metrics["verdict"]["code"] in page.section_text("verdict")
    metrics = page.section_text("metrics")
    assert "dummy baseline" in metrics and "gradient boosting" in metrics and "linear model" in metrics
    assert "false-alarm rate" in page.section_text("guard")
    assert "seed: 42" in page.section_text("config")
    assert "not available" not in page.section_text("roc-curves" if task != "regression" else "residuals")


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_model_card(runs, reports, task):
    card = (reports[task].parent / "MODEL_CARD.md").read_text(encoding="utf-8")
    for heading in (
        "## Intended use",
        "## Data",
        "## Metrics vs baselines",
        "## Verdict",
        "## Limits",
        "## How to use it",
        "## Environment",
    ):
        assert heading in card
    assert runs[task].metrics["verdict"]["code"] in card
    assert "false-alarm rate" in card and "`ood` true" in card
    assert f'deepwise.load_run("{runs[task].path}")' in card
    assert "| gradient boosting (HistGradientBoosting" in card


@needs_chromium
@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_report_renders_inchromium(reports, task, tmp_path):
    from PIL import Image

    url = reports[task].resolve().as_uri()
    dom = chromium("--dump-dom", url, tmp_path=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = Page(dom.stdout)
    expected = COMMON | (REGRESSION if task == "regression" else CLASSIFICATION)
    assert expected <= set(rendered.sections)
    png = tmp_path / f"{task}.png"
    shot = chromium(f"--screenshot={png}", "--window-size=1280,4000", url, tmp_path=tmp_path)
    assert shot.returncode == 0 and png.is_file(), shot.stderr[-2000:]
    image = Image.open(png).convert("L")
    assert image.size == (1280, 4000)
    pixels = np.asarray(image)
    assert len(np.unique(pixels)) > 50  # not a blank or single-colour page
    non_white = float((pixels < 245).mean())
    assert 0.05 < non_white < 0.9, non_white  # text, tables and plots, on a mostly white page


def test_report_output_option_and_cli(cli, runs, tmp_path):
    result = cli("report", runs["regression"].path, "-o", tmp_path / "diabetes.html")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "diabetes.html").is_file() and (tmp_path / "MODEL_CARD.md").is_file()
    missing = cli("report", tmp_path / "no-such-run")
    assert missing.exit_code == 2 and "not a deepwise run" in missing.output
    nowhere = cli("report", runs["regression"].path, "-o", tmp_path / "no" / "such" / "folder.html")
    assert nowhere.exit_code == 2 and "does not exist" in nowhere.output


def test_report_when_the_data_is_gone(runs, tmp_path):
    """Per-row plots need the training data; without it the report still renders and says why they are missing."""
    copy = tmp_path / "moved"
    shutil.copytree(runs["regression"].path, copy)
    config = (copy / "config.yaml").read_text()
    old = str(runs["regression"].config.data.path)
    assert old in config
    (copy / "config.yaml").write_text(config.replace(old, str(tmp_path / "gone.csv")))
    page = Page(report(copy).read_text(encoding="utf-8"))
    assert {"predicted-vs-true", "residuals", "learning-curves", "metrics"} <= set(page.sections)
    assert "not available" in page.section_text("predicted-vs-true")
    assert "missing or changed" in page.section_text("residuals")


def test_incomplete_run_is_refused(runs, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(runs["regression"].path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**manifest, "status": "interrupted"}))
    with pytest.raises(deepwise.DeepwiseError, match="not complete"):
        report(copy)


def test_diagnose_fit_in_words():
    over = pd.DataFrame({"loss": [1.0, 0.5, 0.3, 0.2, 0.1], "val_loss": [1.0, 0.6, 0.7, 0.8, 0.9]})
    d = diagnose_fit(over, best_epoch=2, reference=1.1)
    assert d.label.startswith("overfitting after epoch 2") and "rose from 0.6" in d.sentences[0]
    gap = pd.DataFrame({"loss": [1.0, 0.2], "val_loss": [1.1, 0.6]})
    assert diagnose_fit(gap, best_epoch=2, reference=1.1).label == "overfitting"
    under = pd.DataFrame({"loss": [1.1, 1.05, 1.0], "val_loss": [1.1, 1.05, 1.02]})
    d = diagnose_fit(under, best_epoch=3, max_epochs=100, reference=1.1)
    assert d.label == "underfitting" and "ignores the inputs" in d.sentences[0]
    good = pd.DataFrame({"loss": [1.0, 0.3, 0.25, 0.24], "val_loss": [1.0, 0.32, 0.3, 0.31]})
    assert diagnose_fit(good, best_epoch=3, max_epochs=100, reference=1.1).label == "good fit"
    still = pd.DataFrame({"loss": [1.0, 0.5, 0.3], "val_loss": [1.0, 0.5, 0.31]})
    assert diagnose_fit(still, best_epoch=3, max_epochs=3, reference=1.1).label == "still improving"
    tiny = pd.DataFrame({"loss": [0.5, 0.0005, 0.0004], "val_loss": [0.5, 0.0016, 0.0019]})
    assert diagnose_fit(tiny, best_epoch=2, reference=1.05).label == "good fit"  # gaps of 0.001 do not matter
