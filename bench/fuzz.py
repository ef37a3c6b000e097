"""Long fuzzing of deepwise's readers: the properties of tests/test_properties.py, for as long as you like.

    .venv/bin/python bench/fuzz.py --seconds 600               # 10 minutes, shared among the properties
    .venv/bin/python bench/fuzz.py --seconds 120 --only csv    # one group: csv | preprocessing | config
    DEEPWISE_FUZZ_SECONDS=600 .venv/bin/python bench/fuzz.py   # the same, from the environment

Each property runs in rounds of --batch examples with fresh random seeds until its share of the time is used
(a round that has started finishes). Hypothesis shrinks a failure to a minimal example, which is printed with
its traceback; the script goes on with the other properties and exits 1 if anything failed. Not a test: `make
test` does not run it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("KERAS_BACKEND", "jax")

from helpers import properties as P  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PROPERTIES = {
    "csv": [
        ("csv_bytes", P.check_read_bytes, (P.table_bytes, P.table_suffix)),
        ("csv_frames", P.check_read_frame, (P.small_frames(), P.frame_options)),
    ],
    "preprocessing": [("preprocessing_round_trip", P.check_preprocessing_round_trip, (P.preprocessing_frames(),))],
    "config": [
        ("config_text", P.check_config_text, (P.yaml_texts,)),
        ("config_sections", P.check_config_dict, (P.config_dicts,)),
    ],
}


def fuzz(name: str, check, strategies: tuple, seconds: float, batch: int) -> dict:
    """Run ``check`` on drawn examples for about ``seconds``; returns counts and the failure, if any."""
    count = {"examples": 0}

    def counted(drawn: tuple) -> None:
        count["examples"] += 1
        check(*drawn)

    test = settings(
        max_examples=batch,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )(given(st.tuples(*strategies))(counted))
    start = time.monotonic()
    rounds = 0
    while time.monotonic() - start < seconds:
        rounds += 1
        try:
            test()
        except Exception as err:  # noqa: BLE001  (report every failure, then go on with the next property)
            return {
                "property": name,
                "seconds": round(time.monotonic() - start, 1),
                "rounds": rounds,
                "examples": count["examples"],
                "failure": "".join(traceback.format_exception(type(err), err, err.__traceback__))[-6000:],
            }
    return {
        "property": name,
        "seconds": round(time.monotonic() - start, 1),
        "rounds": rounds,
        "examples": count["examples"],
        "failure": None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("DEEPWISE_FUZZ_SECONDS", 60)))
    parser.add_argument("--only", choices=sorted(PROPERTIES), action="append", help="property group (repeatable)")
    parser.add_argument("--batch", type=int, default=200, help="examples per round (one random seed)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    chosen = [p for group in (args.only or sorted(PROPERTIES)) for p in PROPERTIES[group]]
    share = args.seconds / len(chosen)
    results = []
    for name, check, strategies in chosen:
        result = fuzz(name, check, strategies, share, args.batch)
        results.append(result)
        status = "FAILED" if result["failure"] else "ok"
        print(
            f"{name:26s} {status:6s} {result['examples']:>8,} examples in {result['seconds']:>7.1f} s "
            f"({result['rounds']} round(s))",
            flush=True,
        )
        if result["failure"]:
            print(result["failure"], flush=True)
    total = sum(r["examples"] for r in results)
    failed = [r["property"] for r in results if r["failure"]]
    print(f"total: {total:,} examples in {sum(r['seconds'] for r in results):.0f} s; failed: {failed or 'none'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
