"""A trial worker process of ``deepwise tune --workers K`` (started with spawn semantics: a fresh interpreter).

Usage: ``python -m deepwise.tune_worker PLAN.json`` (the plan is written by :func:`deepwise.tune.tune`).
"""

from __future__ import annotations

import sys

from deepwise import backend as _backend  # noqa: F401  (sets KERAS_BACKEND first)


def main() -> None:
    from deepwise.tune.worker import worker_main

    sys.exit(worker_main(sys.argv[1:]))


if __name__ == "__main__":
    main()
