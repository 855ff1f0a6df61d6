#!/usr/bin/env bash
# Usage: tools/venv.sh VENV REQUIREMENTS
# Creates (or refreshes) a virtual environment of its own for a tool that cannot share .venv
# with seldon-core 1.18.2's pins (schemathesis, MLServer); does nothing when VENV is newer than
# REQUIREMENTS. PYTHON picks the interpreter (default python3.11).
set -euo pipefail
if [[ $# -ne 2 ]]; then
    echo "usage: $0 VENV REQUIREMENTS" >&2
    exit 2
fi
venv="$1"
requirements="$2"
stamp="$venv/.installed"
if [[ -f "$stamp" && "$stamp" -nt "$requirements" ]]; then
    exit 0
fi
"${PYTHON:-python3.11}" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade "pip>=24"
"$venv/bin/pip" install --quiet -r "$requirements"
touch "$stamp"
