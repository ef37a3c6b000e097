"""Every benchmark in bench/ runs, in its quick mode, on a fresh clone (issue 17).

The scripts are taken from the bench folder itself and their quick arguments from the "quick look" column of
bench/README.md's table, so a new script fails here until it has a row there (and a result line below), and the
README stays true. Each runs as its own process from the repository root with this interpreter, as a user runs it.
The quick modes together take a few minutes on 2 cores (bench/README.md gives the measured times).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
README = BENCH / "README.md"

#: Modules in bench/ that are not benchmarks of their own (run or imported by one).
HELPERS = {"peers_child.py"}

#: What each benchmark prints when it got to its result: a regular expression searched in its standard output.
RESULT_LINES = {
    "overhead.py": r"Overall fit ratio \d+\.\d+x",
    "inspect_scale.py": r"inspect [\d,]+ x 50: [\d.]+ s .*peak RSS",
    "serve_load.py": r"1,?000 rows\s+\d+\s+0\s",
    "image_pipeline.py": r"ratio pipeline / train step \(fit\): \d+\.\d+",
    "predict_throughput.py": r"Run\.predict \(preprocess \+ model \+ guard\).*x the bare model",
    "scaling.py": r"\| [\d,]+ \| \d+ MB \| (memory|streamed) \| .* GB \|",
    "overhead_models.py": r"\| weather_forecast \| .*\*\*\d+\.\d+x\*\*",
    "overhead_predict.py": r"\| \w+ \| test split \(\d+\) \| .* \| \d+\.\d+x \| \d+\.\d+x \|",
    "cnn_batch_size.py": r"\| 32 \| \d+ \| 1\.00x \|",
    "flops.py": r"\| wide_mlp \| 32 \| .*x \|",
    "transfer.py": r"transfer above scratch on \d+ of \d+ draws",
    "peers.py": r"\| penguins \| [\d.]+ s \(CPU [\d.]+ s\) · [\d.]+ · \d+ MB \|",
    "tune_workers.py": r"speed-up of 2 workers: \d+\.\d+x",
    "time_split.py": r"\| BASEL_sunshine \| -?\d\.\d+ ",
    "fuzz.py": r"failed: none",
    "formula.py": r"10000x10\s+median\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+True",
    "text_tokenize.py": r"word\s+transform .* ratio \d+\.\d+x",
    "coverage.py": r"\| penguins \| 0\.90 \| [\d.]+ \| [\d.]+ \| \d+ \|",
    "image_ood.py": r"far-away flagged: lowest \d+\.\d% .* false alarms on test: highest \d+\.\d%",
    "backends.py": r"backends: measured jax",
    "mc_dropout.py": r"mc_dropout: nominal 0\.90, conformal mean coverage [\d.]+, MC dropout [\d.]+",
    "translation_speed.py": r'"deepwise_tokens_per_s": \d',
    "segmentation_tiling.py": r"GB after deepwise predict \(under 2 GB\); deepwise mask [\d.]+ MP/s",
    "forecast_defaults.py": r"within noise of the best simple model or better on \d+ of 2 series",
    "tabular_zoo.py": r"zoo: 2 tables; vs gradient boosting \d+ wins, \d+ ties, \d+ losses",
}

#: Seconds one quick mode may take before the test fails (5-60 s each on 2 idle cores; slack for a busy machine).
TIMEOUT_S = float(os.environ.get("DEEPWISE_BENCH_TIMEOUT_S", 300))


def benchmark_scripts() -> list[str]:
    return sorted(p.name for p in BENCH.glob("*.py") if p.name not in HELPERS)


def quick_arguments() -> dict[str, list[str]]:
    """script -> its quick-look arguments, from the table at the top of bench/README.md."""
    table: dict[str, list[str]] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([\w.]+\.py)`", cells[0]) if len(cells) == 4 else None
        if match:
            quick = cells[3]
            table[match.group(1)] = shlex.split(quick.replace("`", "")) if quick.startswith("`") else []
    return table


def test_every_benchmark_has_a_quick_look_and_a_result_line() -> None:
    quick, scripts = quick_arguments(), benchmark_scripts()
    no_row = [s for s in scripts if s not in quick]
    assert not no_row, f"bench/README.md's table has no row for {no_row}: add one with its quick-look arguments"
    gone = [s for s in quick if s not in scripts]
    assert not gone, f"bench/README.md's table lists {gone}, which bench/ does not hold: remove the rows"
    no_pattern = [s for s in scripts if s not in RESULT_LINES]
    assert not no_pattern, f"add what {no_pattern} print(s) as a result to RESULT_LINES in this file"


def _run_quick_mode(script: str, tmp_path: Path) -> None:
    arguments = quick_arguments().get(script)
    assert arguments is not None, f"bench/README.md's table has no row (no quick look) for {script}"
    assert arguments, f"bench/README.md gives {script} no quick-look arguments: give it a quick mode"
    env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(tmp_path)}
    command = [sys.executable, str(Path("bench") / script), *arguments]
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        so_far = [b.decode(errors="replace") if isinstance(b, bytes) else b or "" for b in (err.stdout, err.stderr)]
        pytest.fail(f"`{shlex.join(command)}` ran past {TIMEOUT_S} s; its output so far:\n" + "\n".join(so_far))
    output = f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
    assert done.returncode == 0, f"`{shlex.join(command)}` exited {done.returncode}\n{output}"
    assert re.search(RESULT_LINES[script], done.stdout), (
        f"`{shlex.join(command)}` printed no result line matching {RESULT_LINES[script]!r}\n{output}"
    )


# Two classes, half of the scripts each: `make test-slow` distributes test classes (``--dist loadscope``), so the two
# halves run on two workers at once.
SCRIPTS = benchmark_scripts()


@pytest.mark.bench
class TestQuickModesFirstHalf:
    @pytest.mark.parametrize("script", SCRIPTS[::2])
    def test_benchmark_runs_in_its_quick_mode(self, script: str, tmp_path: Path) -> None:
        _run_quick_mode(script, tmp_path)


@pytest.mark.bench
class TestQuickModesSecondHalf:
    @pytest.mark.parametrize("script", SCRIPTS[1::2])
    def test_benchmark_runs_in_its_quick_mode(self, script: str, tmp_path: Path) -> None:
        _run_quick_mode(script, tmp_path)
