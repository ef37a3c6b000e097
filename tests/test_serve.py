"""The HTTP service over a run: predictions, schema, health, bounded requests, clean errors, and a schemathesis run
against its own OpenAPI spec (generated valid and invalid requests: no 5xx, every response as documented)."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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


def _fuzz(app, max_examples: int = 50, schema_valid_may_fail: bool = False) -> set[tuple[str, int]]:
    """Valid and invalid requests generated from the app's own OpenAPI spec: no 5xx, all responses documented.

    ``schema_valid_may_fail``: a request the spec allows may still be refused with a 422 (random bytes are no image,
    random dates no series), so schemathesis' "schema-valid data is accepted" check is left out.
    """
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.checks import positive_data_acceptance
    from schemathesis.config import SchemathesisConfig

    # 413 (too many records or images, or too large a body) is a rejection too
    rejected = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
    config = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": rejected}}})
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    statuses: list[tuple[str, int]] = []
    failures: list[str] = []
    excluded = [positive_data_acceptance] if schema_valid_may_fail else None

    def make_check(operation, mode):
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def check(case):
            response = case.call()
            statuses.append((operation.label, response.status_code))
            try:
                case.validate_response(response, excluded_checks=excluded)
            except BaseException as err:  # a FailureGroup: keep going, report them all below
                failures.append(f"{operation.label} {mode.name} {response.status_code}: {str(err)[:400]}")

        return check

    for result in schema.get_all_operations():
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            try:
                make_check(result.ok(), mode)()
            except Unsatisfiable:  # no invalid request exists for an endpoint without inputs (GET /health)
                continue
    assert statuses and all(code < 500 for _, code in statuses)
    assert failures == [], "\n\n".join(failures[:5])
    return set(statuses)


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
def test_schemathesis_finds_no_server_errors(app):
    statuses = _fuzz(app)
    assert {("POST /predict", 200), ("POST /predict", 422)} <= statuses


@pytest.mark.slow  # moved to `make test-slow` (issue 17): the fast suite stays under 5 minutes
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


# ------------------------------------------------------------------------------------------------------------- images
MAX_IMAGES = 8


@pytest.fixture(scope="module")
def digits_pngs(tmp_path_factory):
    """400 of scikit-learn's 8x8 digits as PNG files in class folders (about 40 per class)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    root = tmp_path_factory.mktemp("digits")
    pixels = (digits.images * 255 / 16).astype(np.uint8)
    for i, (img, label) in enumerate(zip(pixels[:400], digits.target[:400], strict=True)):
        (root / str(label)).mkdir(exist_ok=True)
        Image.fromarray(img).save(root / str(label) / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def image_run(tmp_path_factory, digits_pngs):
    config = {"problem": {"target": "label"}, "data": {"path": str(digits_pngs)}, "training": {"epochs": 5}}
    return deepwise.train(config, runs_dir=tmp_path_factory.mktemp("serve-image-runs"), verbose=False)


@pytest.fixture(scope="module")
def image_app(image_run):
    return create_app(image_run.path, max_images=MAX_IMAGES, max_body_bytes=64_000)


@pytest.fixture
def image_client(image_app):
    from fastapi.testclient import TestClient

    with TestClient(image_app, raise_server_exceptions=False) as test_client:
        yield test_client


def _assert_same_images(got: list[dict], expected: pd.DataFrame, classes: list) -> None:
    assert [p["prediction"] for p in got] == expected["prediction"].tolist()
    proba = np.array([[p["probabilities"][str(c)] for c in classes] for p in got])
    assert np.allclose(proba, expected[[f"proba_{c}" for c in classes]].to_numpy(), atol=1e-5)
    assert [p["ood"] for p in got] == expected["ood"].tolist()
    assert np.allclose([p["ood_score"] for p in got], expected["ood_score"].to_numpy(), rtol=1e-4)


def test_image_predictions_match_the_run_uploaded_and_base64(image_client, image_run, digits_pngs, tmp_path):
    import base64

    from PIL import Image

    files = [sorted((digits_pngs / str(k)).glob("*.png"))[0] for k in range(6)]
    big = tmp_path / "seven.jpg"  # colour, another size and format: converted and resized as run.predict does
    Image.open(files[5]).convert("RGB").resize((40, 32)).save(big, quality=90)
    files.append(big)
    expected = image_run.predict([str(f) for f in files])
    classes = image_run.preprocessor.classes_

    upload = [("files", (f.name, f.read_bytes(), "application/octet-stream")) for f in files]
    response = image_client.post("/predict", files=upload)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["task"] == "image_classification"
    assert [p["image"] for p in body["predictions"]] == [f.name for f in files]
    _assert_same_images(body["predictions"], expected, classes)
    assert body["guard"] == {
        "rows": 7,
        "flagged": int(expected["ood"].sum()),
        "out_of_range": {},
        "unseen_categories": {},
    }

    encoded = [base64.b64encode(f.read_bytes()).decode() for f in files]
    encoded[0] = "data:image/png;base64," + encoded[0]
    response = image_client.post("/predict", json={"images": encoded})
    assert response.status_code == 200, response.text
    assert [p["image"] for p in response.json()["predictions"]] == [f"images[{i}]" for i in range(7)]
    _assert_same_images(response.json()["predictions"], expected, classes)

    one = image_client.post("/predict", files={"files": (files[2].name, files[2].read_bytes())})
    assert one.status_code == 200 and len(one.json()["predictions"]) == 1
    _assert_same_images(one.json()["predictions"], expected.iloc[[2]], classes)


def _png_header(width: int, height: int) -> bytes:
    """A grayscale PNG that claims that size but holds (almost) no pixel data: a few dozen bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_image_schema_and_bad_images(image_client, digits_pngs):
    import base64

    schema = image_client.get("/schema").json()
    assert schema["task"] == "image_classification" and schema["classes"] == [str(k) for k in range(10)]
    assert schema["input"]["image_size"] == [8, 8] and schema["input"]["channels"] == 1
    assert {"PNG", "JPEG"} <= set(schema["input"]["formats"]) and ".png" in schema["input"]["extensions"]
    assert schema["limits"]["max_images"] == MAX_IMAGES and schema["limits"]["max_body_bytes"] == 64_000

    png = next((digits_pngs / "0").glob("*.png")).read_bytes()
    upload = [
        ("files", ("good.png", png)),
        ("files", ("notes.txt", b"not an image")),
        ("files", ("cut.png", png[: len(png) // 2])),
        ("files", ("huge.png", _png_header(8_000, 7_000))),  # refused from its header, never decoded
    ]
    bad = image_client.post("/predict", files=upload)
    assert bad.status_code == 422, bad.text
    invalid = {item["image"]: item["error"] for item in bad.json()["invalid"]}
    assert list(invalid) == ["notes.txt", "cut.png", "huge.png"] and "8000x7000" in invalid["huge.png"]
    assert "3 of the 4 image(s)" in bad.json()["detail"] and "Fix:" in bad.json()["detail"]
    not_base64 = image_client.post("/predict", json={"images": [base64.b64encode(png).decode(), "%%%"]})
    assert not_base64.status_code == 422 and not_base64.json()["invalid"][0]["image"] == "images[1]"
    assert image_client.post("/predict", json={"images": []}).status_code == 422
    assert image_client.post("/predict", json={"records": [{}]}).json()["detail"][0]["field"] == "images"
    no_field = image_client.post("/predict", files={"image": ("a.png", png)})
    assert no_field.status_code == 422 and "no field 'files'" in no_field.json()["detail"]
    assert image_client.post("/predict", files=[("files", ("a.png", png))] * (MAX_IMAGES + 1)).status_code == 413
    assert image_client.post("/predict", json={"images": ["AA=="] * (MAX_IMAGES + 1)}).status_code == 413
    too_big = image_client.post("/predict", files={"files": ("big.png", b"x" * 70_000)})
    assert too_big.status_code == 413 and "larger than" in too_big.json()["detail"]
    wrong_type = image_client.post("/predict", content=png, headers={"content-type": "image/png"})
    assert wrong_type.status_code == 415 and "multipart/form-data" in wrong_type.json()["detail"]


@pytest.mark.slow  # schemathesis' fuzzing (8-10 s): to the slow suite, so that `make test` stays under 5 minutes
def test_image_app_fuzzed_finds_no_server_errors(image_app):
    statuses = _fuzz(image_app, schema_valid_may_fail=True)
    assert {("POST /predict", 200), ("POST /predict", 422)} <= statuses  # 200: the spec's example image


# -------------------------------------------------------------------------------------------------------- forecasting
WEATHER_CSV = Path(__file__).resolve().parents[1] / "examples" / "weather" / "weather_prediction_dataset.csv"
WEATHER_COLUMNS = ["DATE", "MONTH", "BASEL_humidity", "BASEL_pressure", "BASEL_temp_mean", "BASEL_sunshine"]
WINDOW = 3


@pytest.fixture(scope="module")
def basel(tmp_path_factory):
    path = tmp_path_factory.mktemp("basel") / "basel.csv"
    pd.read_csv(WEATHER_CSV, usecols=WEATHER_COLUMNS).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory, basel):
    config = {
        "problem": {"target": "BASEL_sunshine", "task": "forecasting", "window": WINDOW},
        "data": {"path": str(basel), "time_column": "DATE"},
        "training": {"epochs": 5},
    }
    return deepwise.train(config, runs_dir=tmp_path_factory.mktemp("serve-forecast-runs"), verbose=False, force=True)


@pytest.fixture(scope="module")
def forecast_app(forecast_run):
    return create_app(forecast_run.path, max_records=MAX_RECORDS, max_body_bytes=64_000)


@pytest.fixture
def forecast_client(forecast_app):
    from fastapi.testclient import TestClient

    with TestClient(forecast_app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_forecast_matches_the_run(forecast_client, forecast_run, basel):
    frame = pd.read_csv(basel)
    for history in (frame.tail(10), frame.iloc[400:405].sample(frac=1, random_state=0)):  # any order: sorted
        response = forecast_client.post("/predict", json={"records": history.to_dict("records")})
        assert response.status_code == 200, response.text
        body = response.json()
        expected = forecast_run.predictor.forecast(history)
        (got,) = body["predictions"]
        assert body["task"] == "forecasting" and body["horizon"] == 1
        assert got["prediction"] == pytest.approx(expected["prediction"].iloc[0], abs=1e-5)
        assert pd.Timestamp(got["forecast_for"]) == expected["forecast_for"].iloc[0]
        assert pd.Timestamp(got["last_time"]) == expected["last_time"].iloc[0]
        assert got["ood"] == bool(expected["ood"].iloc[0])
        assert body["guard"]["rows"] == WINDOW
    iso = frame.tail(WINDOW).assign(DATE=["2010-01-30", "2010-01-31", "2010-02-01"])  # ISO dates work too
    response = forecast_client.post("/predict", json={"records": iso.to_dict("records")})
    assert response.status_code == 200 and response.json()["predictions"][0]["forecast_for"].startswith("2010-02-02")


def test_forecast_schema_and_bad_history(forecast_client, basel):
    schema = forecast_client.get("/schema").json()
    assert schema["task"] == "forecasting" and schema["target"] == "BASEL_sunshine"
    assert schema["window"] == WINDOW and schema["min_records"] == WINDOW and schema["horizon"] == 1
    assert schema["time"] == {"name": "DATE", "type": "date", "missing": "not allowed; each time once"}
    assert {i["name"] for i in schema["inputs"]} == set(WEATHER_COLUMNS) - {"DATE"}  # the target's past included

    records = pd.read_csv(basel).tail(WINDOW).to_dict("records")
    short = forecast_client.post("/predict", json={"records": records[:2]})
    assert short.status_code == 422
    assert f"fewer than the model's window of {WINDOW}" in short.json()["detail"]
    assert f"at least the last {WINDOW} rows" in short.json()["detail"]
    no_time = forecast_client.post("/predict", json={"records": [{k: v for k, v in records[0].items() if k != "DATE"}]})
    assert no_time.status_code == 422 and no_time.json()["detail"][0]["field"] == "records[0].DATE"
    numbers = forecast_client.post("/predict", json={"records": [dict(r, DATE=i) for i, r in enumerate(records)]})
    assert numbers.status_code == 422 and "trained on dates" in numbers.json()["detail"]
    twice = forecast_client.post("/predict", json={"records": [records[0]] * WINDOW})
    assert twice.status_code == 422 and "duplicated" in twice.json()["detail"]
    not_dates = forecast_client.post("/predict", json={"records": [dict(r, DATE="soon") for r in records]})
    assert not_dates.status_code == 422 and "not dates" in not_dates.json()["detail"]


@pytest.mark.slow  # schemathesis' fuzzing (8-10 s): to the slow suite, so that `make test` stays under 5 minutes
def test_forecast_app_fuzzed_finds_no_server_errors(forecast_app):
    statuses = _fuzz(forecast_app, schema_valid_may_fail=True)
    assert {("POST /predict", 200), ("POST /predict", 422)} <= statuses  # 200: the spec's example history
