#!/usr/bin/env bash
# Creates the peer tools' virtual environments for bench/peers.py, each on its own (they are heavy and pin
# versions that clash with deepwise's: Ludwig brings PyTorch, about 7 GB; AutoKeras needs keras==3.12.4).
# Never part of the project's dependencies or of CI. Re-running skips an environment that already works.
#   bash bench/peers_setup.sh [FOLDER]        (default: bench/.peers)
set -euo pipefail
PY=${PYTHON:-python3}
DIR=${1:-$(dirname "$0")/.peers}
mkdir -p "$DIR"

make_env() {  # name, import check, packages...
  local name=$1 check=$2; shift 2
  local env="$DIR/$name"
  if [ -x "$env/bin/python" ] && "$env/bin/python" -c "$check" >/dev/null 2>&1; then
    echo "$name: ready ($env)"; return
  fi
  echo "$name: installing $* into $env"
  "$PY" -m venv "$env"
  "$env/bin/pip" install -q --upgrade pip
  "$env/bin/pip" install -q "$@"
  "$env/bin/python" -c "$check"
  echo "$name: ready ($env)"
}

make_env autokeras "import autokeras, tensorboard" "autokeras==3.0.0" "keras==3.12.4" "tensorflow-cpu" "tensorboard" \
  "scikit-learn" "pandas" "mlxtend"
make_env ludwig "import ludwig" "ludwig" "scikit-learn" "pandas" "mlxtend"
make_env sklearn "import sklearn, pandas, mlxtend" "scikit-learn" "pandas" "mlxtend"
