#!/usr/bin/env bash
# Creates bench/mlserver/.venv with MLServer 1.7 and its scikit-learn runtime.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3.11}"
if [[ -x "$here/.venv/bin/mlserver" && "$here/.venv/.installed" -nt "$here/requirements.txt" ]]; then
    exit 0
fi
"$python" -m venv "$here/.venv"
"$here/.venv/bin/pip" install --quiet --upgrade "pip>=24"
"$here/.venv/bin/pip" install --quiet -r "$here/requirements.txt"
touch "$here/.venv/.installed"
