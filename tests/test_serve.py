"""The HTTP service over a run: predictions, schema, health, bounded requests, clean errors, and a schemathesis run
against its own OpenAPI spec (generated valid and invalid requests: no 5xx, every response as documented)."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("httpx", reason="httpx (FastAPI's TestClient) is not installed")

import deepwise  # noqa: E402
from deepwise.serve import create_app  # noqa: E402

MAX_RECORDS = 50
ROW = {
    "island": "Dream",
    "bill_length_mm": 49.0,
    "bill_depth_mm": 18.5,
    "flipper_length_mm": 195.0,
    "body_mass_g": 3800,
    "sex": "female",
    "year": 2008,
}


@pytest.fixture(scope="module")
def run(tmp_path_factory, penguins_csv):
    from threadpoolctl import threadpool_limits

    config = {"problem": {"target": "species"}, "data": {"path": str(penguins_csv)}, "training": {"epochs": 40}}
    with threadpool_limits(1, user_api="openmp"):  # sklearn's OpenMP threads otherwise fight JAX's on 2 cores
        return deepwise.train(config, runs_dir=tmp_path_factory.mktemp("serve-runs"), verbose=False)


@pytest.fixture(scope="module")
def app(run):
    return create_app(run.path, max_records=MAX_RECORDS, max_body_bytes=64_000)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_health_and_schema(client, run):
    assert client.get("/health").json() == {
        "status": "ok",
        "run": run.path.name,
        "task": "multiclass",
        "model_loaded": True,
    }
    schema = client.get("/schema").json()
    assert schema["task"] == "multiclass" and schema["target"] == "species"
    assert schema["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    inputs = {i["name"]: i for i in schema["inputs"]}
    assert inputs["bill_length_mm"]["type"] == "numeric"
    assert inputs["bill_length_mm"]["training_min"] == pytest.approx(
        run.preprocessor.numeric_stats_["bill_length_mm"]["min"]
    )
    assert set(inputs["island"]["categories"]) == {"Biscoe", "Dream", "Torgersen"}
    assert schema["limits"]["max_records"] == MAX_RECORDS
    assert schema["guard"]["false_alarm_rate_target"] == 0.01


def test_predict_matches_the_run_and_flags_unlike_rows(client, run, penguins_csv):
    frame = pd.read_csv(penguins_csv).drop(columns=["species"]).sample(12, random_state=1)
    records = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]
    records[0]["island"] = "Atlantis"  # unseen category: predicted and flagged
    records[1]["extra column"] = "ignored"
    response = client.post("/predict", json={"records": records})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = run.predict(pd.DataFrame(records))
    got = body["predictions"]
    assert [p["prediction"] for p in got] == expected["prediction"].tolist()
    proba = np.array([[p["probabilities"][c] for c in ("Adelie", "Chinstrap", "Gentoo")] for p in got])
    assert np.allclose(proba, expected.filter(like="proba_").to_numpy(), atol=1e-6)
    assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert got[0]["ood"] is True and [p["ood"] for p in got] == expected["ood"].tolist()
    assert body["guard"]["rows"] == 12 and body["guard"]["unseen_categories"]["island"]["examples"] == ["Atlantis"]


def test_invalid_input_is_422_naming_the_field(client):
    missing = client.post("/predict", json={"records": [{k: v for k, v in ROW.items() if k != "sex"}]})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["field"] == "records[0].sex"
    wrong = client.post("/predict", json={"records": [ROW, dict(ROW, body_mass_g="heavy")]})
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["field"] == "records[1].body_mass_g"
    absurd = client.post("/predict", json={"records": [dict(ROW, flipper_length_mm=1e300)]})
    assert absurd.status_code == 422 and "flipper_length_mm" in absurd.text
    assert client.post("/predict", json={"records": []}).status_code == 422
    assert (
        client.post("/predict", content=b"{not json", headers={"content-type": "application/json"}).status_code == 422
    )
    nulls = client.post("/predict", json={"records": [dict.fromkeys(ROW)]})  # every value missing: still predicted
    assert nulls.status_code == 200 and nulls.json()["predictions"][0]["prediction"] in (
        "Adelie",
        "Chinstrap",
        "Gentoo",
    )


def test_requests_are_bounded(client):
    too_many = client.post("/predict", json={"records": [ROW] * (MAX_RECORDS + 1)})
    assert too_many.status_code == 413 and "at most 50" in too_many.json()["detail"]
    too_big = client.post("/predict", content=b"x" * 70_000, headers={"content-type": "application/json"})
    assert too_big.status_code == 413 and "larger than" in too_big.json()["detail"]
    assert client.post("/predict", json={"records": [ROW] * MAX_RECORDS}).status_code == 200


def test_internal_errors_are_generic(client, app, monkeypatch):
    def boom(frame):
        raise RuntimeError("secret internals /home/someone/model.py line 3")

    monkeypatch.setattr(app.state.run, "predict", boom)
    response = client.post("/predict", json={"records": [ROW]})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert "secret" not in response.text and "Traceback" not in response.text


def test_openapi_and_loopback_default(client):
    from deepwise.cli import serve_command

    spec = client.get("/openapi.json").json()
    assert {"/predict", "/schema", "/health"} <= set(spec["paths"])
    record = spec["components"]["schemas"]["Record"]
    assert "bill_length_mm" in record["properties"] and "island" in record["required"]
    assert inspect.signature(serve_command).parameters["host"].default == "127.0.0.1"


def test_schemathesis_finds_no_server_errors(app):
    """Valid and invalid requests generated from the app's own OpenAPI spec: no 5xx, all responses documented."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    statuses: list[int] = []
    failures: list[str] = []

    def make_check(operation, mode):
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=50,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def check(case):
            response = case.call()
            statuses.append(response.status_code)
            try:
                case.validate_response(response)
            except BaseException as err:  # a FailureGroup: keep going, report them all below
                failures.append(f"{operation.label} {mode.name} {response.status_code}: {str(err)[:400]}")

        return check

    for result in schema.get_all_operations():
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            try:
                make_check(result.ok(), mode)()
            except Unsatisfiable:  # no invalid request exists for an endpoint without inputs (GET /health)
                continue
    assert statuses and all(code < 500 for code in statuses)
    assert failures == []
    assert 200 in statuses and 422 in statuses


def test_cli_serves_on_loopback_and_stops(run, tmp_path):
    """The real thing: `deepwise serve` in a subprocess (uvicorn) answers on 127.0.0.1 and stops on Ctrl-C."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "deepwise.cli", "serve", str(run.path), "--port", str(port)]
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
            else:
                pytest.fail("the server did not start:\n" + log.read_text()[-3000:])
            response = httpx.post(f"http://127.0.0.1:{port}/predict", json={"records": [ROW]}, timeout=10)
            assert response.status_code == 200 and response.json()["predictions"][0]["prediction"] == "Chinstrap"
        finally:
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    assert server.returncode == 0, log.read_text()[-3000:]
    assert f"http://127.0.0.1:{port}" in log.read_text()
