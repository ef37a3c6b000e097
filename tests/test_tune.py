"""deepwise tune: search space validation, a search that beats the untuned config on validation, a killed study that
continues, two workers sharing a PostgreSQL study, and failing / pruned trials that do not stop the study.

Trial configs train for a few epochs only, so each trial takes seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import deepwise
from deepwise.errors import ConfigError
from deepwise.tune import tune
from deepwise.tune.space import apply_params, default_space, parse_space
from deepwise.tune.study import TRIALS_DIR, postgres_driver

pytestmark = pytest.mark.slow  # real subprocesses, PostgreSQL and several trainings: CI runs them

import optuna  # noqa: E402

# no HTML report in the trials' runs: no test here reads one, and it costs about as much CPU as a trial's training
FAST = {"training": {"epochs": 5, "checkpoint_every_s": 0, "report": False}, "model": {"type": "mlp"}}


def _config(csv: Path, target: str, **sections) -> dict:
    cfg = {"problem": {"target": target}, "data": {"path": str(csv)}, **json.loads(json.dumps(FAST))}
    for key, value in sections.items():
        cfg[key] = {**cfg.get(key, {}), **value} if isinstance(value, dict) and key != "tune" else value
    return cfg


def _run_status(study_dir: Path, number: int) -> str | None:
    try:
        return json.loads((study_dir / TRIALS_DIR / f"trial-{number:04d}" / "manifest.json").read_text())["status"]
    except (OSError, ValueError, KeyError):  # not created yet, or being written
        return None


def _write_yaml(path: Path, cfg: dict) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _load(study_dir: Path, name: str):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{study_dir / 'study.db'}")


# ------------------------------------------------------------------------------------------ search space (no training)


def test_unknown_path_is_a_config_error_with_the_nearest_valid_path():
    with pytest.raises(ConfigError) as err:
        parse_space({"training.learning_rte": {"low": 1e-4, "high": 1e-2}})
    assert "Did you mean 'training.learning_rate'" in err.value.message
    assert err.value.expected and err.value.fix
    with pytest.raises(ConfigError, match="training.learning_rate"):
        parse_space({"model.learning_rate": {"low": 1e-4, "high": 1e-2}})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"model.hidden_units": {"low": 8, "high": 64}}, "is not a number"),
        ({"training.batch_size": {"low": 8.5, "high": 64}}, "whole number"),
        ({"training.learning_rate": {"low": 0, "high": 1, "log": True}}, "low > 0"),
        ({"model.dropout": {"low": 0.5, "high": 0.1}}, "below low"),
        ({"model.dropout": {"choices": []}}, "tune.model.dropout"),
        ({"model.dropout": {"min": 0, "max": 1}}, "tune.model.dropout"),
    ],
)
def test_invalid_ranges_are_config_errors(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_space(raw)


def test_default_spaces_per_model_type():
    assert {"model.hidden_units", "model.dropout", "training.learning_rate", "training.batch_size"} <= set(
        default_space("mlp").root
    )
    assert "model.recurrent_units" in default_space("lstm").root
    assert "model.recurrent_units" in default_space("gru").root
    assert {"model.filters", "model.kernel_size"} <= set(default_space("conv1d").root)
    for image_model in ("cnn", "pretrained"):  # augmentation strength is searched for images
        assert {"data.augmentation.translation", "data.augmentation.zoom"} <= set(default_space(image_model).root)
    cfg = {"problem": {"target": "label"}, "data": {"path": "images/"}}
    assert apply_params(cfg, {"data.augmentation.translation": 0.1}).data.augmentation.translation == 0.1


def test_apply_params_sets_dotted_paths_and_validates(penguins_csv):
    cfg = deepwise.Config.model_validate(_config(penguins_csv, "species"))
    applied = apply_params(cfg, {"model.hidden_units": [8], "training.early_stopping.patience": 3})
    assert applied.model.hidden_units == [8] and applied.training.early_stopping.patience == 3
    with pytest.raises(ConfigError, match="optimizer"):
        apply_params(cfg, {"training.optimizer": "bogus"})


def test_each_trial_resolves_automatic_patience_for_its_own_batch_size(tmp_path):
    """Patience left automatic is the epochs that make ~1,000 steps: a trial at another batch size needs its own."""
    import math

    from sklearn.datasets import load_digits

    csv = tmp_path / "digits.csv"
    load_digits(as_frame=True).frame.to_csv(csv, index=False)  # ~1,150 training rows: 32 -> 20, 16 -> 14
    cfg = _config(csv, "target", training={"epochs": 2}, tune={"training.batch_size": {"choices": [16]}})
    result = tune(cfg, trials=1, study_dir=tmp_path / "study", verbose=False)
    trial = deepwise.load_run(result.trials[0].run_dir)
    n_train = trial.manifest["data"]["split"]["train"]
    expected = min(20, max(5, round(1000 / math.ceil(n_train / 16))))
    assert trial.config.training.batch_size == 16
    assert trial.config.training.early_stopping.patience == expected != 20


def test_cli_reports_an_unknown_tune_path_with_exit_2(tmp_path, penguins_csv, cli):
    config = _write_yaml(
        tmp_path / "c.yaml", _config(penguins_csv, "species", tune={"model.dropuot": {"choices": [0]}})
    )
    res = cli("tune", config, "--trials", "1", "--study-dir", tmp_path / "study")
    assert res.exit_code == 2, res.output
    assert "model.dropout" in res.output and "Traceback" not in res.output


def test_continuing_a_study_with_another_config_is_refused(tmp_path, penguins_csv):
    from deepwise.train import prepare
    from deepwise.tune.study import open_study

    first = prepare(deepwise.Config.model_validate(_config(penguins_csv, "species"))).config
    space = default_space("mlp")
    url = f"sqlite:///{tmp_path / 'study' / 'study.db'}"
    (tmp_path / "study").mkdir()
    open_study(url, "penguins", first, space, "maximize", "accuracy", 0, create=True)
    changed = _config(penguins_csv, "species", training={"epochs": 7})
    with pytest.raises(ConfigError, match="training.epochs"):
        tune(changed, trials=1, study_dir=tmp_path / "study", verbose=False)


# --------------------------------------------------------------------------------------------------- searching


def test_tuned_study_beats_the_untuned_config_on_validation(tmp_path, wine_csv):
    # a deliberately weak untuned config: 10 epochs at a learning rate of 1e-4, and no linear path (started at the
    # fitted logistic regression, it alone scores 1.0 on wine's validation rows: nothing left for tuning to win)
    cfg = _config(
        wine_csv,
        "target",
        model={"linear_path": False},
        training={"epochs": 10, "learning_rate": 1e-4, "checkpoint_every_s": 0},
        tune={
            "training.learning_rate": {"low": 1e-4, "high": 3e-2, "log": True},
            "model.hidden_units": {"choices": [[16], [64, 32]]},
        },
    )
    default = deepwise.train(cfg, runs_dir=tmp_path / "runs", verbose=False)
    default_score = default.metrics["validation"]["accuracy"]

    start = time.perf_counter()
    result = tune(cfg, trials=10, study_dir=tmp_path / "study", verbose=False)
    seconds = time.perf_counter() - start
    assert len(result.trials) == 10
    assert {t.state for t in result.trials} <= {"COMPLETE", "PRUNED"}
    assert result.trials[0].params["training.learning_rate"] == pytest.approx(1e-4)  # trial 0 = the config as given
    assert result.best.value > default_score, (result.best.value, default_score)
    # the best trial is the best on VALIDATION, read from each trial run's metrics.json
    scores = {}
    for t in result.trials:
        if t.state == "COMPLETE":
            scores[t.number] = json.loads((Path(t.run_dir) / "metrics.json").read_text())["validation"]["accuracy"]
            assert scores[t.number] == pytest.approx(t.value)
    assert result.best.value == max(scores.values())
    # every trial is an ordinary run directory; the best one predicts
    best_run = deepwise.load_run(result.best.run_dir)
    assert len(best_run.predict(wine_csv)) == 178
    assert Path(result.best.run_dir).parent == tmp_path / "study" / TRIALS_DIR
    # best.yaml is a loadable config with the best values
    best = deepwise.load_config(result.best_config_path)
    assert best.training.learning_rate == pytest.approx(result.best.params["training.learning_rate"])
    print(f"10 trials in {seconds:.1f} s; best {result.best.value:.3f} vs untuned {default_score:.3f}")

    # --refit: the same study (no new trial), the best config retrained on train + validation for the best
    # trial's best epoch, then measured once on the untouched test split with baselines and a verdict
    again = tune(cfg, trials=10, study_dir=tmp_path / "study", refit=True, verbose=False)
    assert len(again.trials) == 10
    best_metrics = json.loads((Path(result.best.run_dir) / "metrics.json").read_text())
    best_split = json.loads((Path(result.best.run_dir) / "manifest.json").read_text())["data"]["split"]
    refit = again.refit
    assert refit.manifest["data"]["split"] == {
        "train": best_split["train"] + best_split["validation"],
        "validation": best_split["validation"],
        "test": best_split["test"],
    }
    assert refit.config.data.split.train_on_validation and not refit.config.training.early_stopping.enabled
    assert refit.metrics["epochs_trained"] == best_metrics["best_epoch"]
    assert refit.metrics["validation_held_out"] is False
    assert refit.metrics["test"]["accuracy"] >= 0.85 and refit.metrics["verdict"]["code"]
    assert set(refit.metrics["baselines"]) >= {"dummy", "linear", "gradient_boosting"}
    print(f"refit: test accuracy {refit.metrics['test']['accuracy']:.3f} ({refit.metrics['verdict']['code']})")


def test_killed_tune_continues_the_same_study(tmp_path, penguins_csv, cli):
    config = _write_yaml(
        tmp_path / "c.yaml",
        _config(
            penguins_csv,
            "species",
            training={"epochs": 40, "early_stopping": {"enabled": False}},  # long enough to be killed while training
            tune={"training.learning_rate": {"low": 1e-3, "high": 3e-2, "log": True}},
        ),
    )
    study_dir = tmp_path / "study"
    command = [
        sys.executable,
        "-m",
        "deepwise.cli",
        "tune",
        str(config),
        "--trials",
        "4",
        "--study-dir",
        str(study_dir),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))
    deadline = time.time() + 150
    before = []
    while time.time() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode()
        if (study_dir / "study.db").exists():
            try:
                trials = _load(study_dir, "penguins").trials
            except Exception:  # the study is being created right now
                trials = []
            before = [t for t in trials if t.state.name == "COMPLETE"]
            # kill it in the middle of a trial's training: its run exists and is still running (a trial whose
            # run has completed but which has not reported to the study yet would be killed between the two)
            training = [
                t
                for t in trials
                if t.state.name == "RUNNING" and "pid" in t.user_attrs and _run_status(study_dir, t.number) == "running"
            ]
            if len(before) >= 2 and training:
                break
        time.sleep(0.05)
    assert len(before) >= 2, "the study did not complete two trials in time"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    killed_states = {t.number: t.state.name for t in _load(study_dir, "penguins").trials}
    assert "RUNNING" in killed_states.values()

    res = cli("tune", config, "--trials", "4", "--study-dir", study_dir)
    assert res.exit_code == 0, res.output
    assert "already has" in res.output
    trials = _load(study_dir, "penguins").trials
    assert len(trials) >= len(killed_states) >= 3  # the count kept growing
    numbers = [t.number for t in trials]
    assert numbers == list(range(len(trials)))  # nothing lost, nothing duplicated
    counted = [t for t in trials if "outcome" in t.user_attrs]
    assert len(counted) == 4
    by_number = {t.number: t for t in trials}
    for t in before:  # completed trials are kept, with their values
        assert by_number[t.number].state.name == "COMPLETE" and by_number[t.number].value == t.value
    for number, state in killed_states.items():
        if state == "RUNNING":  # the trial killed with its process: FAIL, not counted, its run left incomplete
            assert by_number[number].state.name == "FAIL" and "outcome" not in by_number[number].user_attrs
            manifest = study_dir / TRIALS_DIR / f"trial-{number:04d}" / "manifest.json"
            if manifest.exists():  # (killed before train() created it otherwise)
                assert json.loads(manifest.read_text())["status"] != "complete"
    assert (study_dir / "best.yaml").is_file()


def test_failing_trials_are_recorded_and_the_study_goes_on(tmp_path, diabetes_csv):
    # regression with plain SGD at a learning rate of 1e6 diverges to NaN within an epoch
    cfg = _config(
        diabetes_csv,
        "target",
        training={"epochs": 5, "optimizer": "sgd", "learning_rate": 0.01},
        tune={
            "training.learning_rate": {"choices": [1e6, 0.01]},
            "training.optimizer": {"choices": ["sgd", "adam", "bogus"]},
        },
    )
    study_dir = tmp_path / "study"
    study_dir.mkdir()
    study = optuna.create_study(study_name="diabetes", storage=f"sqlite:///{study_dir / 'study.db'}")
    study.enqueue_trial({"training.learning_rate": 1e6, "training.optimizer": "sgd"})  # diverges: NaN loss
    study.enqueue_trial({"training.learning_rate": 0.01, "training.optimizer": "bogus"})  # an invalid choice
    study.enqueue_trial({"training.learning_rate": 0.01, "training.optimizer": "adam"})
    result = tune(cfg, trials=3, study_dir=study_dir, verbose=False)
    states = [t.state for t in result.trials]
    assert states == ["FAIL", "FAIL", "COMPLETE"]
    nan, invalid, ok = result.trials
    assert "diverged" in nan.error
    assert "optimizer" in invalid.error and "bogus" in invalid.error
    assert not nan.interrupted and not invalid.interrupted
    manifest = json.loads((Path(nan.run_dir) / "manifest.json").read_text())
    assert manifest["status"] == "failed"  # a failed trial's run stays marked incomplete
    assert result.best.number == ok.number


def test_a_pruned_trial_is_pruned_not_an_error(tmp_path, penguins_csv):
    from deepwise.tune.worker import trial_callback_class

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.0))
    trial = study.ask()
    callback = trial_callback_class()(trial)  # reports -val_loss < 0: the threshold pruner prunes at once
    cfg = _config(penguins_csv, "species")
    with pytest.raises(optuna.TrialPruned, match="pruned after epoch 1"):
        deepwise.train(cfg, run_dir=tmp_path / "run", verbose=False, callbacks=[callback])
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["status"] != "complete"
    assert study.trials[0].intermediate_values and study.trials[0].state.name == "PRUNED"


# ------------------------------------------------------------------------------------------- PostgreSQL workers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_bin() -> Path | None:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(x) for x in p.parent.name.split(".") if x.isdigit()],
    )
    return candidates[-1] if candidates and (candidates[-1] / "initdb").exists() else None


@pytest.fixture(scope="module")
def postgres_url():
    """A throw-away PostgreSQL server on 127.0.0.1 with a database 'optuna' (as in FACTS.md)."""
    pg_bin = _pg_bin()
    if pg_bin is None:
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql); .ci/run installs it")
    import psycopg2  # noqa: F401  (the driver Optuna uses; in the test extras)
    if os.geteuid() != 0 or shutil.which("su") is None:
        pytest.skip("starting a PostgreSQL server here needs root (to run it as the postgres user)")
    data = Path(tempfile.mkdtemp(prefix="pgdata-"))
    sock = Path(tempfile.mkdtemp(prefix="pgsock-"))
    shutil.chown(data, "postgres", "postgres")
    shutil.chown(sock, "postgres", "postgres")
    port = _free_port()

    def as_postgres(command: str) -> None:
        subprocess.run(["su", "postgres", "-c", command], check=True, capture_output=True, timeout=120)

    as_postgres(f"{pg_bin}/initdb -D {data} -U postgres --auth=trust -E UTF8")
    as_postgres(
        f"{pg_bin}/pg_ctl -D {data} -l {data}/server.log -w -o "
        f"'-p {port} -k {sock} -c listen_addresses=127.0.0.1' start"
    )
    try:
        as_postgres(f"{pg_bin}/psql -h 127.0.0.1 -p {port} -qc 'CREATE DATABASE optuna'")
        yield f"postgresql://postgres@127.0.0.1:{port}/optuna"
    finally:
        as_postgres(f"{pg_bin}/pg_ctl -D {data} -m fast -w stop")
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(sock, ignore_errors=True)


def test_two_workers_share_a_postgresql_study(tmp_path, penguins_csv, postgres_url):
    cfg = _config(penguins_csv, "species", tune={"training.learning_rate": {"low": 1e-3, "high": 3e-2, "log": True}})
    n = 4
    result = tune(cfg, trials=n, workers=2, storage=postgres_url, study_dir=tmp_path / "study", verbose=False)
    study = optuna.load_study(study_name="penguins", storage=postgres_driver(postgres_url))
    trials = study.trials
    assert len(trials) == n  # none lost, none extra
    assert sorted(t.number for t in trials) == list(range(n))  # none duplicated
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    assert {t.user_attrs["worker"] for t in trials} == {0, 1}  # both workers ran trials
    assert len({t.user_attrs["pid"] for t in trials}) == 2
    run_dirs = sorted(p.name for p in (tmp_path / "study" / TRIALS_DIR).iterdir())
    assert run_dirs == [f"trial-{i:04d}" for i in range(n)]
    assert result.best is not None and result.storage.startswith("postgresql://")
    # running it again with the same size adds nothing: the study is complete
    again = tune(cfg, trials=n, workers=2, storage=postgres_url, study_dir=tmp_path / "study", verbose=False)
    assert len(again.trials) == n
