# Sourced by scripts/run and scripts/test: create .venv with Python >= 3.11 and install the
# project (compiling the Cython core) whenever pyproject.toml, setup.py or the kernel changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
EXTRAS="${1:-}"
STAMP=".venv/.installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$STAMP" ] || [ -n "$(find pyproject.toml setup.py core/_kernel.pyx -newer "$STAMP")" ]; then
    echo "installing the project into .venv (compiles the Cython core) ..." >&2
    if ! .venv/bin/python -m pip install -e ".${EXTRAS:+[$EXTRAS]}" >.venv/install.log 2>&1; then
        cat .venv/install.log >&2
        exit 1
    fi
    touch "$STAMP"
fi
