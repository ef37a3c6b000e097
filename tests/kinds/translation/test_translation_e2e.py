"""Translation through deepwise's standard flow, end to end on Babel's dates: train, load and predict the same,
re-measure the test split, resume an interrupted copy, report, serve, export, and refuse bad input through the CLI.

Slow: a small network trained for a few epochs (one to three minutes on a shared 2-core machine); the quality bar is
test_translation_bar.py.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

import deepwise
from deepwise.evaluation import VERDICTS

pytestmark = pytest.mark.slow

SMALL = {"units": 32, "embed_dim": 16}
NEW = ["Tuesday, March 5, 2024", "Jun 1, 1999", "Der Hund bellt laut im Garten."]


@pytest.fixture(scope="module")
def run(dates_csv, translation_kind, tmp_path_factory):
    config = {"problem": {"target": "fr"}, "data": {"path": str(dates_csv)}, "translation": SMALL,
              "training": {"epochs": 6}}  # fmt: skip
    return deepwise.train(config, runs_dir=tmp_path_factory.mktemp("runs"), verbose=False)


def _scalars(scores: dict) -> dict:
    return {k: v for k, v in scores.items() if isinstance(v, float)}


def test_a_complete_run_with_baselines_verdict_and_extras(run):
    assert run.kind.name == "translation" and run.metrics.kind == "translation" and run.task == "translation"
    for file in ("model.keras", "preprocessing.json", "metrics.json", "history.csv", "guard.npz", "report.html",
                 "MODEL_CARD.md"):
        assert (run.path / file).is_file(), file  # fmt: skip
    m = run.metrics
    assert m.main_metric == "chrf" and {"chrf", "bleu", "exact_match", "n"} <= set(m["test"])
    assert set(m.baselines) == {"copy_source", "retrieval"}
    verdict = m.verdict
    assert verdict.code in VERDICTS
    ev = verdict.evidence
    assert ev["metric"] == "chrf" and isinstance(ev["network"], float) and ev["best_baseline"] in m.baselines
    assert set(ev["network_minus_best_baseline"]) >= {"difference", "ci95_low", "ci95_high", "resamples"}
    assert ev["n_test"] == m["test"]["n"] == 160 and ev["n_train"] == 520
    extra = m["translation"]
    assert len(extra["worst"]) == 5 and {"rate", "planted", "vs_references", "examples"} <= set(extra["invented"])
    assert extra["decode"]["test"]["sentences"] == 160 and extra["training_speed"]["tokens_per_s"] > 0
    assert {"token_accuracy", "val_token_accuracy", "val_loss"} <= set(run.history.columns)
    assert m.guard["test_flag_rate"] <= 0.1 and "translation_guard" in m.guard


def test_loaded_run_predicts_the_same_and_remeasures_the_test_split(run, dates_csv, tmp_path):
    loaded = deepwise.load_run(run.path)
    result = loaded.predict(NEW)
    pd.testing.assert_frame_equal(result, run.predict(NEW))
    assert list(result.columns) == ["source", "translation", "invented", "invented_content", "ood", "ood_score",
                                    "ood_reasons"]  # fmt: skip
    assert result["ood"].tolist()[2] and "unknown characters" in result["ood_reasons"][2]
    assert "ood" not in loaded.predict(NEW, guard=False)
    assert _scalars(loaded.evaluate()) == pytest.approx(_scalars(run.metrics["test"]), rel=1e-9)
    frame = pd.DataFrame({"en": NEW[:2]}, index=[10, 11])
    assert loaded.predict(frame).index.tolist() == [10, 11]
    (tmp_path / "new.txt").write_text("\n".join(NEW[:2]) + "\n", encoding="utf-8")
    assert loaded.predict(tmp_path / "new.txt")["translation"].tolist() == result["translation"][:2].tolist()
    labelled = loaded.evaluate(dates_csv)
    assert labelled["n"] == 800 and 0 <= labelled["chrf"] <= 100 and "invented_rate" in labelled


def test_resume_an_interrupted_copy(run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps({**manifest, "status": "interrupted"}))
    (copy / "metrics.json").unlink()
    resumed = deepwise.resume(copy, verbose=False)
    assert _scalars(resumed.metrics["test"]) == pytest.approx(_scalars(run.metrics["test"]), rel=1e-9)


def test_report_and_model_card(run):
    html = (run.path / "report.html").read_text(encoding="utf-8")
    for section in ("translation-examples", "invented-content", "attention", "unusual-sources", "verdict"):
        assert f'id="{section}"' in html, section
    attention = html[html.index('id="attention"'):html.index('id="unusual-sources"')]
    assert "data:image/png;base64," in attention
    card = (run.path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "translation" in card and 'POST /predict {"sources": [...]}' in card


def test_serve(run):
    from fastapi.testclient import TestClient

    from deepwise.serve import create_app

    client = TestClient(create_app(run.path))
    response = client.post("/predict", json={"sources": NEW})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [t["source"] for t in body["translations"]] == NEW and body["task"] == "translation"
    assert body["translations"][2]["ood"] is True and body["guard"]["flagged"] >= 1
    assert body["translations"][0]["translation"] == run.predict(NEW[:1])["translation"][0]
    schema = client.get("/schema").json()
    assert schema["input"]["source"] == "en" and schema["limits"]["max_chars"] == 1000
    for bad in ({"sources": []}, {"sources": ["x" * 10_000]}, {"sources": ["ok"] * 257}, {"records": ["x"]}):
        assert client.post("/predict", json=bad).status_code == 422, bad
    assert client.post("/predict", json={"sources": ["   "]}).status_code == 422


def test_export_keras(run, tmp_path):
    from deepwise.backend import keras_module
    from deepwise.export import export

    folder = export(run.path, "keras", tmp_path / "export")
    meta = json.loads((folder / "export.json").read_text())
    assert set(meta["inputs"]) == {"source", "decoder_input"}
    model = keras_module().saving.load_model(folder / "model.keras", compile=False)
    x, _ = run.kind.sample_inputs(run, 4)
    logits = np.asarray(model.predict(x, verbose=0))
    state = run.preprocessor.network
    assert logits.shape == (4, state["target_len"], state["target_vocab"])


def test_cli_predict_evaluate_and_bad_input(run, cli, tmp_path):
    (tmp_path / "new.csv").write_text("en\n" + "\n".join(f'"{s}"' for s in NEW) + "\n", encoding="utf-8")
    result = cli("predict", run.path, tmp_path / "new.csv")
    assert result.exit_code == 0, result.output
    assert "translation" in result.output and "of 3 row(s) flagged" in result.output
    assert cli("evaluate", run.path).exit_code == 0
    (tmp_path / "long.txt").write_text("March 5\n" + "word " * 2000 + "\n", encoding="utf-8")
    bad = cli("predict", run.path, tmp_path / "long.txt", "-o", tmp_path / "out.csv")
    assert bad.exit_code == 2 and "Traceback" not in bad.output and "longer than 1,000 characters" in bad.output
    assert not (tmp_path / "out.csv").exists()


def test_aligned_files(date_pairs, translation_kind, tmp_path):
    (tmp_path / "train.en").write_text("\n".join(date_pairs[0][:600]) + "\n", encoding="utf-8")
    (tmp_path / "train.fr").write_text("\n".join(date_pairs[1][:600]) + "\n", encoding="utf-8")
    config = {"problem": {"target": "fr"}, "data": {"path": str(tmp_path / "train.en")},
              "translation": {"target_path": "train.fr", **SMALL}, "training": {"epochs": 1, "report": False}}
    aligned = deepwise.train(config, runs_dir=tmp_path / "runs", verbose=False)  # fmt: skip
    assert aligned.config.translation.target_path == str(tmp_path / "train.fr")
    assert aligned.predict(tmp_path / "train.en")["translation"].size == 600
    assert aligned.evaluate((tmp_path / "train.en", tmp_path / "train.fr"))["n"] == 600


def test_transformer_subwords_and_beam_search(dates_csv, translation_kind, tmp_path):
    options = {"architecture": "transformer", "units": 32, "tokenizer": "subword", "vocab_size": 200,
               "decoding": "beam", "beam": 3}
    config = {"problem": {"target": "fr", "task": "translation"}, "data": {"path": str(dates_csv)},
              "translation": options, "training": {"epochs": 1, "report": False}}
    run = deepwise.train(config, runs_dir=tmp_path / "runs", verbose=False)  # fmt: skip
    state = run.preprocessor
    assert state.network["config"]["architecture"] == "transformer" and state.tokenizer.source.kind == "subword"
    assert state.decoding == "beam" and run.metrics["translation"]["decode"]["test"]["decoding"] == "beam"
    loaded = deepwise.load_run(run.path)
    pd.testing.assert_frame_equal(loaded.predict(NEW[:2]), run.predict(NEW[:2]))
    assert _scalars(loaded.evaluate()) == pytest.approx(_scalars(run.metrics["test"]), rel=1e-9)
