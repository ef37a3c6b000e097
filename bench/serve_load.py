"""Load benchmark of ``deepwise serve``: requests per second and latency (p50, p99) for 1-row and 1,000-row requests.

An image run is measured with 1 and 64 images per request (base64 in JSON, drawn from its training folder), a
forecasting run with its window of recent rows per request.

Starts ``deepwise serve RUN`` on 127.0.0.1 at a free port in a subprocess (the real uvicorn server, one worker),
waits for ``GET /health``, then sends a fixed number of ``POST /predict`` requests per scenario with
``httpx.AsyncClient``, at most ``--concurrency`` in flight, after a short warm-up; then stops the server. Traffic
goes to the loopback address only, the request count is fixed and the whole run has a deadline.

Without ``--run`` it first trains a penguins run (30 epochs) in a temporary folder.

Usage:
    python bench/serve_load.py                                # penguins, 400 x 1 row, 40 x 1,000 rows, 8 in flight
    python bench/serve_load.py --run runs/penguins-20260101-120000 --concurrency 16 --json serve.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PENGUINS = ROOT / "examples" / "penguins" / "penguins.csv"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_penguins(folder: Path) -> Path:
    from threadpoolctl import threadpool_limits

    import deepwise

    config = {"problem": {"target": "species"}, "data": {"path": str(PENGUINS)}, "training": {"epochs": 30}}
    with threadpool_limits(1, user_api="openmp"):
        return deepwise.train(config, runs_dir=folder, verbose=False).path


def records(run: Path, n: int) -> list[dict]:
    """n input rows drawn (with replacement) from the run's own data file, as JSON-ready dicts."""
    import yaml

    config = yaml.safe_load((run / "config.yaml").read_text())
    frame = pd.read_csv(config["data"]["path"]).drop(columns=[config["problem"]["target"]])
    sample = frame.sample(n, replace=True, random_state=0)
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in sample.to_dict("records")]


def bodies(run: Path, batch_rows: int) -> list[tuple[str, int, bytes]]:
    """(scenario, rows per request, JSON body) for the kind of run: a table, images or a forecast."""
    import base64

    import yaml

    config = yaml.safe_load((run / "config.yaml").read_text())
    task = json.loads((run / "metrics.json").read_text())["task"]
    if task == "image_classification":
        from deepwise.data.images import IMAGE_SUFFIXES

        files = sorted(p for p in Path(config["data"]["path"]).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SystemExit("the image run's training folder holds no image files to send")
        rng = np.random.default_rng(0)

        def images(n: int) -> bytes:
            chosen = rng.choice(len(files), n, replace=True)
            encoded = [base64.b64encode(files[i].read_bytes()).decode() for i in chosen]
            return json.dumps({"images": encoded}).encode()

        many = min(batch_rows, 64)
        return [("1 image", 1, images(1)), (f"{many} images", many, images(many))]
    if task == "forecasting":
        window = config["problem"].get("window", 1)
        frame = pd.read_csv(config["data"]["path"]).tail(window)
        rows = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]
        return [(f"forecast ({window} rows)", 1, json.dumps({"records": rows}).encode())]
    return [
        ("1 row", 1, json.dumps({"records": records(run, 1)}).encode()),
        (f"{batch_rows:,} rows", batch_rows, json.dumps({"records": records(run, batch_rows)}).encode()),
    ]


async def wait_healthy(base: str, deadline: float) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=2.0) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise TimeoutError("the server did not answer /health in time")


async def scenario(base: str, body: bytes, total: int, concurrency: int, warmup: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60.0, limits=limits) as client:
        headers = {"content-type": "application/json"}
        for _ in range(warmup):
            (await client.post("/predict", content=body, headers=headers)).raise_for_status()
        semaphore = asyncio.Semaphore(concurrency)

        async def one() -> None:
            nonlocal errors
            async with semaphore:
                start = time.perf_counter()
                response = await client.post("/predict", content=body, headers=headers)
                latencies.append(time.perf_counter() - start)
                errors += response.status_code != 200

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(total)))
        elapsed = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    return {
        "requests": total,
        "errors": errors,
        "seconds": round(elapsed, 3),
        "requests_per_s": round(total / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="run directory (default: train a penguins run first)")
    parser.add_argument("--single", type=int, default=400, help="1-row requests to send")
    parser.add_argument("--batch", type=int, default=40, help="1,000-row requests to send")
    parser.add_argument("--batch-rows", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at most")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds before the benchmark gives up")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    deadline = time.monotonic() + args.deadline

    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or train_penguins(Path(tmp))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "deepwise.cli", "serve", str(run), "--host", "127.0.0.1", "--port", str(port)]
        log = open(Path(tmp) / "server.log", "w")  # noqa: SIM115 (closed below)
        started = time.perf_counter()
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            asyncio.run(wait_healthy(base, deadline))
            startup = time.perf_counter() - started
            results = {}
            scenarios = bodies(run, args.batch_rows)  # forecasting: one scenario only
            for (name, rows, body), total in zip(scenarios, (args.single, args.batch)[: len(scenarios)], strict=True):
                remaining = deadline - time.monotonic()
                results[name] = asyncio.run(
                    asyncio.wait_for(scenario(base, body, total, args.concurrency, warmup=3), timeout=remaining)
                )
                results[name]["rows_per_s"] = round(results[name]["requests_per_s"] * rows, 1)
                results[name]["body_bytes"] = len(body)
        finally:
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            log.close()

    print(
        f"deepwise serve on {platform.machine()}, {os.cpu_count()} CPU cores, one uvicorn worker; "
        f"concurrency {args.concurrency}; server ready in {startup:.1f} s"
    )
    print(f"{'scenario':<20} {'requests':>8} {'errors':>6} {'req/s':>8} {'rows/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for name, r in results.items():
        print(
            f"{name:<20} {r['requests']:>8} {r['errors']:>6} {r['requests_per_s']:>8} {r['rows_per_s']:>10,.0f} "
            f"{r['p50_ms']:>8} {r['p99_ms']:>8}"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"startup_s": round(startup, 2), "concurrency": args.concurrency, "results": results}, indent=2)
            + "\n"
        )


if __name__ == "__main__":
    main()
