"""Reproducible environments: the manifest records every installed package, and `deepwise doctor --compare RUN`
says what differs from the environment a run was trained in."""

from __future__ import annotations

import json
import shutil


def test_a_run_records_every_package_and_doctor_compares(penguins_run, tmp_path, cli):
    packages = penguins_run.manifest.packages
    assert packages["numpy"] and packages["keras"] and len(packages) > 30
    same = cli("doctor", "--compare", penguins_run.path)
    assert same.exit_code == 0 and "Same environment" in same.output
    copy = tmp_path / "older"
    shutil.copytree(penguins_run.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["packages"]["numpy"] = "1.0.0"
    manifest["packages"]["long-gone-package"] = "0.1"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    found = json.loads(cli("doctor", "--compare", copy, "--json").output)
    assert found["same"] is False and found["changed"]["numpy"][0] == "1.0.0"
    assert found["missing"] == {"long-gone-package": "0.1"}
    text = cli("doctor", "--compare", copy)
    assert text.exit_code == 0 and "numpy" in text.output and "not installed" in text.output
