#!/usr/bin/env bash
# Creates <repo>/.venv with the reference Flask server's requirements.
# Idempotent and fast when nothing changed: pip runs only when the sha256 of
# requirements.txt differs from the stamp left by the last successful install.
# Quiet on success. Safe to run from several processes at once (flock).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo_root/.venv"
requirements="$repo_root/testing/flask_api/requirements.txt"
stamp="$venv/.requirements.sha256"

fail() {
  echo "setup-python.sh: $*" >&2
  exit 1
}

command -v python3 >/dev/null 2>&1 ||
  fail "python3 not found on PATH; install Python 3.9 or newer (3.11 recommended)"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
  fail "python3 is $(python3 -V 2>&1); Flask 3.1 needs Python 3.9 or newer"
[ -f "$requirements" ] || fail "missing $requirements"

wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"

# Test files run in parallel processes that may all call this script on a
# fresh checkout: serialise them so only one builds the venv.
mkdir -p "$venv"
# Keep the venv out of git whatever the repo's .gitignore says (Python 3.13's venv does the same).
[ -f "$venv/.gitignore" ] || echo '*' >"$venv/.gitignore"
exec 9>"$venv/.setup.lock"
flock 9

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" ||
    fail "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi

if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
  rm -f "$stamp"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$requirements" || fail "pip install -r $requirements failed"
  echo "$wanted" >"$stamp"
fi
