"""Every user error: exit code 2, a message with what/expected/fix, no traceback, no run that looks complete."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def _penguins(penguins_csv) -> pd.DataFrame:
    return pd.read_csv(penguins_csv)


def _write(path: Path, df: pd.DataFrame) -> Path:
    df.to_csv(path, index=False)
    return path


def _config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def case_missing_file(tmp, penguins_csv):
    return ["train", tmp / "nope.csv", "--target", "species"], "does not exist"


def case_empty_file(tmp, penguins_csv):
    (tmp / "empty.csv").write_bytes(b"")
    return ["train", tmp / "empty.csv", "--target", "species"], "empty"


def case_header_only(tmp, penguins_csv):
    (tmp / "header.csv").write_text("species,island,bill_length_mm\n")
    return ["train", tmp / "header.csv", "--target", "species"], "no data rows"


def case_binary_garbage(tmp, penguins_csv):
    (tmp / "garbage.csv").write_bytes(bytes(range(256)) * 40)
    return ["train", tmp / "garbage.csv", "--target", "species"], "binary"


def case_unknown_extension(tmp, penguins_csv):
    (tmp / "data.xlsx").write_bytes(b"PK\x03\x04")
    return ["train", tmp / "data.xlsx", "--target", "species"], "cannot read"


def case_missing_target(tmp, penguins_csv):
    return ["train", penguins_csv, "--target", "spieces"], "Did you mean 'species'"


def case_single_class(tmp, penguins_csv):
    df = _penguins(penguins_csv)
    df = df[df.species == "Adelie"]
    return ["train", _write(tmp / "one.csv", df), "--target", "species"], "single value"


def case_all_nan_target(tmp, penguins_csv):
    df = _penguins(penguins_csv).assign(label=np.nan)
    return ["train", _write(tmp / "nan.csv", df), "--target", "label"], "every value is missing"


def case_misspelled_key(tmp, penguins_csv):
    cfg = _config(
        tmp / "c.yaml", f"problem: {{target: species}}\ndata: {{path: {penguins_csv}}}\ntraining: {{epoch: 5}}\n"
    )
    return ["train", cfg], "Did you mean 'epochs'"


def case_unknown_section(tmp, penguins_csv):
    cfg = _config(tmp / "c.yaml", f"problem: {{target: species}}\ndata: {{path: {penguins_csv}}}\nmodle: {{}}\n")
    return ["train", cfg], "Did you mean 'model'"


def case_wrong_type(tmp, penguins_csv):
    cfg = _config(
        tmp / "c.yaml", f"problem: {{target: species}}\ndata: {{path: {penguins_csv}}}\ntraining: {{epochs: ten}}\n"
    )
    return ["train", cfg], "training.epochs"


def case_python_tag(tmp, penguins_csv):
    cfg = _config(tmp / "c.yaml", "problem: !!python/object/apply:os.system ['echo pwned']\n")
    return ["train", cfg], "not valid YAML"


def case_missing_config(tmp, penguins_csv):
    return ["train", tmp / "deepwise.yaml"], "does not exist"


def case_numeric_junk(tmp, penguins_csv):
    df = _penguins(penguins_csv)
    df["bill_length_mm"] = df["bill_length_mm"].astype(object)
    df.loc[5, "bill_length_mm"] = "n/a?"
    df.loc[9, "bill_length_mm"] = "39,1"
    return ["train", _write(tmp / "junk.csv", df), "--target", "species"], "'bill_length_mm' holds numbers"


def case_all_nan_input(tmp, penguins_csv):
    df = _penguins(penguins_csv).assign(empty=np.nan)
    path = _write(tmp / "d.csv", df)
    cfg = _config(tmp / "c.yaml", f"problem: {{target: species}}\ndata: {{path: {path}, inputs: [empty, island]}}\n")
    return ["train", cfg], "no values at all"


def case_too_few_rows(tmp, penguins_csv):
    df = _penguins(penguins_csv).groupby("species").head(2)
    return ["train", _write(tmp / "few.csv", df), "--target", "species"], "fewer than the split needs"


def case_rare_class(tmp, penguins_csv):
    df = _penguins(penguins_csv)
    df = pd.concat([df[df.species != "Chinstrap"], df[df.species == "Chinstrap"].head(2)])
    return ["train", _write(tmp / "rare.csv", df), "--target", "species"], "Chinstrap"


def case_no_target_flag(tmp, penguins_csv):
    return ["train", penguins_csv], "--target"


def case_run_dir_exists(tmp, penguins_csv):
    (tmp / "existing").mkdir()
    (tmp / "existing" / "keep.txt").write_text("earlier results")
    return ["train", penguins_csv, "--target", "species", "--run-dir", tmp / "existing"], "already exists"


def case_predict_not_a_run(tmp, penguins_csv):
    return ["predict", tmp, penguins_csv], "not a deepwise run"


CASES = [v for k, v in sorted(globals().items()) if k.startswith("case_")]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
def test_user_error_exits_2_with_a_useful_message(cli, tmp_path, penguins_csv, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    args, expected_text = case(tmp_path, penguins_csv)
    runs = tmp_path / "runs"
    res = cli(*args, "--runs-dir", runs) if args[0] == "train" else cli(*args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert expected_text in res.output
    assert "Fix:" in res.output
    assert not runs.exists() or not any(runs.iterdir()), "a bad input must not leave a run directory"
    if "existing" in str(args):
        assert (tmp_path / "existing" / "keep.txt").read_text() == "earlier results"


def test_debug_shows_traceback(cli, tmp_path):
    res = cli("--debug", "train", tmp_path / "nope.csv", "--target", "y")
    assert res.exit_code == 2 and "Traceback" in res.output


def test_init_refuses_to_overwrite(cli, tmp_path, penguins_csv):
    out = tmp_path / "deepwise.yaml"
    out.write_text("mine")
    res = cli("init", penguins_csv, "--target", "species", "-o", out)
    assert res.exit_code == 2 and out.read_text() == "mine"


def test_id_and_constant_columns_are_dropped_and_said(cli, tmp_path, penguins_csv):
    df = _penguins(penguins_csv)
    df.insert(0, "sample_id", range(len(df)))
    df["station"] = "Palmer"
    path = _write(tmp_path / "p.csv", df)
    res = cli("init", path, "--target", "species", "-o", tmp_path / "c.yaml")
    assert res.exit_code == 0, res.output
    assert "'sample_id': looks like a row identifier" in res.output
    assert "'station': constant" in res.output


def test_few_integer_values_are_classes_and_it_says_why(cli, tmp_path, wine_csv):
    res = cli("init", wine_csv, "--target", "target", "-o", tmp_path / "c.yaml")
    assert res.exit_code == 0 and "3 distinct whole numbers" in res.output
