#!/usr/bin/env bash
# Creates (or reuses) a Python venv holding PyPI's `openai` client pinned with every dependency
# (scripts/openai-requirements.txt: exact versions and wheel hashes) and prints its python.
#
#   scripts/openai-client.sh        install if needed, print the venv's python path
#   scripts/openai-client.sh --path print the path it would have (no install)
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/airlock/venv-openai-<hash of the requirements>/
# PyPI is reached only here, the first time; tests use the cached venv offline.
# Needs python3 (3.11 to 3.13; the hashes cover those wheels) with the venv module.
# PYTHON=/path/to/python3 picks another interpreter.
set -euo pipefail

log() { echo "openai-client: $*" >&2; }
die() { log "error: $*"; exit 1; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$root/scripts/openai-requirements.txt"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/airlock"
[[ -f "$requirements" ]] || die "missing $requirements"

req_hash="$(sha256sum "$requirements" | cut -d' ' -f1)"
venv="$cache/venv-openai-${req_hash:0:12}"
vpython="$venv/bin/python"

case "${1:-}" in
  --path) echo "$vpython"; exit 0 ;;
  "") ;;
  *) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; die "unknown argument: $1" ;;
esac

if [[ -f "$venv/.complete" ]]; then echo "$vpython"; exit 0; fi

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || die "'$python' not found; install Python 3.11+ (Debian: apt-get install python3 python3-venv)"
"$python" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else 1)' \
  || die "$("$python" --version 2>&1): the pinned wheels are for CPython 3.11 to 3.13 (set PYTHON=...)"

# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
make_venv "$venv" "$python" "$(grep -c '^[a-z]' "$requirements") pinned packages (hash-checked wheels)" \
  --require-hashes --no-deps --only-binary=:all: -r "$requirements"
echo "$vpython"
