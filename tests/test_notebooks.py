"""The lesson's episodes as notebooks (examples/notebooks, jupytext percent scripts): each one executes in a Jupyter
kernel from a copy of examples/, in under 3 minutes, and prints the lesson's numbers next to deepwise's."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(p.name for p in (EXAMPLES / "notebooks").glob("*.py"))
LIMIT_S = 180  # the budget per notebook on 2 cores

#: what each notebook must print: the lesson's numbers and deepwise's side by side
EXPECTED = {
    "penguins.py": [r"lesson's network, as reported:\s+41/69 = 59%", r"deepwise:\s+\d+/69 = \d+%", r"verdict: \w+"],
    "images.py": [
        r"Dollar Street images cannot be downloaded here",
        r"dense network on pixels \(the lesson's first\)\s+0\.\d+",
        r"CNN from scratch \(deepwise\)\s+0\.\d+",
        r"CNN transferred from digits 0-4 \(deepwise\)\s+0\.\d+",
        r"feature maps: conv1, ",
        r"verdict: \w+",
    ],
    "weather.py": [
        r"'tomorrow = today' on the lesson's test days: RMSE 3\.877 h \(lesson: 3\.877\)",
        r"deepwise network on the lesson's test days: RMSE \d+\.\d+ h",
        r"split: in time order",
        r"verdict: \w+",
    ],
}


def test_every_notebook_has_expectations():
    assert NOTEBOOKS and set(NOTEBOOKS) == set(EXPECTED), "add the new notebook's expected lines to EXPECTED"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executes_and_prints_the_lessons_numbers(name, tmp_path):
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("runs", "*.ipynb"))
    notebook = jupytext.read(folder / "notebooks" / name)
    started = time.perf_counter()
    NotebookClient(notebook, timeout=LIMIT_S, kernel_name="python3",
                   resources={"metadata": {"path": str(folder / "notebooks")}}).execute()  # fmt: skip
    seconds = time.perf_counter() - started
    printed = "\n".join(
        output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    )
    for pattern in EXPECTED[name]:
        assert re.search(pattern, printed), f"{name} did not print /{pattern}/:\n{printed}"
    assert seconds < LIMIT_S, f"{name} took {seconds:.0f} s"


def _train_in_a_kernel(tmp_path, penguins_csv) -> list[dict]:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import deepwise\n"
        f"run = deepwise.train({{'problem': {{'target': 'species'}}, 'data': {{'path': {str(penguins_csv)!r}}}, "
        f"'training': {{'epochs': 3, 'report': False}}}}, runs_dir={str(tmp_path / 'runs')!r})\n"
        "run"
    )]  # fmt: skip
    NotebookClient(notebook, timeout=LIMIT_S, kernel_name="python3").execute()
    return notebook.cells[0].outputs


@pytest.mark.slow
def test_training_in_jupyter_shows_a_live_progress_bar_and_the_run(tmp_path, penguins_csv):
    """In a notebook, rich draws the epoch bar in an ipywidgets Output (live), and the returned Run renders as HTML
    with its verdict (issue 25: notebook friendliness)."""
    outputs = _train_in_a_kernel(tmp_path, penguins_csv)
    printed = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert 'install "ipywidgets"' not in printed
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs), printed[-2000:]
    shown = outputs[-1]["data"]["text/html"]
    assert "Verdict:" in shown and "<td>the network</td>" in shown
