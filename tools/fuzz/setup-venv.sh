#!/usr/bin/env bash
# Creates .venv-fuzz with schemathesis (tools/fuzz/requirements.txt); does nothing when it is
# already up to date. schemathesis cannot share .venv with seldon-core 1.18.2's pins.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.venv-fuzz"
requirements="$root/tools/fuzz/requirements.txt"
stamp="$venv/.installed"
if [[ -f "$stamp" && "$stamp" -nt "$requirements" ]]; then
    exit 0
fi
"${PYTHON:-python3.11}" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade "pip>=24"
"$venv/bin/pip" install --quiet -r "$requirements"
touch "$stamp"
