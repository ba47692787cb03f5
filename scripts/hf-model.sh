#!/usr/bin/env bash
# Generates Airlock's tiny Hugging Face demo model (a random-weight Llama folder for vLLM,
# sharded safetensors, plus the PEFT LoRA adapters "claims" and "legal"; see
# bundle/demo-hf/make_hf_model.py) and caches it.
#
#   scripts/hf-model.sh                  generate if needed into the default folder
#   scripts/hf-model.sh --output DIR     ... into DIR
#   scripts/hf-model.sh --single         one model.safetensors instead of two shards
#
# Prints the output folder as the only line on stdout; progress and errors go to stderr.
# The folder holds base/, adapters/claims/, adapters/legal/, hf-model.json and .airlock-hf-stamp.
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/airlock/
#   venv-hf-<hash of requirements.txt>/   Python venv with bundle/demo-hf/requirements.txt
#   hf-model/ (hf-model-single/)          default output folder
# The output is regenerated only when the stamp (sha256 of make_hf_model.py and of
# requirements.txt, and the --single flag) differs; it is written into a temporary folder
# beside DIR and renamed.
# Needs python3 (3.11 or newer) with the venv module (Debian/Ubuntu: apt-get install python3-venv)
# and PyPI access the first time. PYTHON=/path/to/python3 picks another interpreter.
set -euo pipefail

log() { echo "hf-model: $*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
demo="$root/bundle/demo-hf"
generator="$demo/make_hf_model.py"
requirements="$demo/requirements.txt"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/airlock"
output=""
single=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --output) [[ $# -ge 2 && -n "$2" ]] || die "--output needs a folder"; output="$2"; shift 2 ;;
    --output=*) output="${1#--output=}"; [[ -n "$output" ]] || die "--output needs a folder"; shift ;;
    --single) single="--single"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage; die "unknown argument: $1" ;;
  esac
done

[[ -n "$output" ]] || output="$cache/hf-model${single:+-single}"
[[ -f "$generator" ]] || die "missing $generator"
[[ -f "$requirements" ]] || die "missing $requirements"

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
  else die "need sha256sum or shasum"; fi
}

# Absolute output path (its parent is created if missing).
output="${output%/}"; [[ -n "$output" ]] || die "--output must not be /"
mkdir -p "$(dirname "$output")" || die "cannot create $(dirname "$output")"
output="$(cd "$(dirname "$output")" && pwd)/$(basename "$output")"

stamp_name=".airlock-hf-stamp"
stamp="make_hf_model.py $(sha256 "$generator")
requirements.txt $(sha256 "$requirements")
flags ${single:-none}"

is_current() {  # $1: folder
  [[ -f "$1/$stamp_name" && "$(cat "$1/$stamp_name")" == "$stamp" ]] || return 1
  local f
  for f in base/config.json base/tokenizer.json base/tokenizer_config.json \
           adapters/claims/adapter_model.safetensors adapters/legal/adapter_model.safetensors \
           hf-model.json; do [[ -s "$1/$f" ]] || return 1; done
}

if is_current "$output"; then
  log "up to date: $output"
  echo "$output"
  exit 0
fi
if [[ -e "$output" && ! -d "$output" ]]; then
  die "$output exists and is not a folder"
fi
if [[ -d "$output" && ! -f "$output/$stamp_name" && -n "$(ls -A "$output")" ]]; then
  die "$output is not empty and holds no generated model (no $stamp_name); refusing to replace it"
fi

# --- Python venv, cached by the hash of requirements.txt ---------------------------------
python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || die "'$python' not found; install Python 3.11+ (Debian: apt-get install python3 python3-venv)"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "$("$python" --version 2>&1) is too old; the pinned packages needs Python 3.11 or newer (set PYTHON=...)"

req_hash="$(sha256 "$requirements")"
venv="$cache/venv-hf-${req_hash:0:12}"
rename_dir() {  # atomic rename that fails if the target exists and is not empty
  "$python" -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$1" "$2" 2>/dev/null
}
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
make_venv "$venv" "$python" "$(grep -cv '^\s*\(#\|$\)' "$requirements") pinned packages" -r "$requirements"
vpython="$venv/bin/python"

# --- Generate into a temporary folder beside the output, then rename ----------------------
tmpout="$(mktemp -d "$output.tmp.XXXXXX")"
trap 'rm -rf "$tmpout"' EXIT
log "generating the Hugging Face demo model into $output"
"$vpython" "$generator" "$tmpout" $single >&2 || die "$generator failed"
printf '%s\n' "$stamp" > "$tmpout/$stamp_name"
is_current "$tmpout" || die "the generator did not write the expected files"
chmod "$(printf '%o' $(( 0777 & ~$(umask) )))" "$tmpout"   # mktemp -d makes it 0700

if [[ -d "$output" ]]; then
  old="$(mktemp -d "$output.old.XXXXXX")"
  rename_dir "$output" "$old/out" || die "cannot move the old $output aside"
  if ! rename_dir "$tmpout" "$output"; then
    rename_dir "$old/out" "$output" || true
    die "cannot move $tmpout to $output"
  fi
  rm -rf "$old"
elif ! rename_dir "$tmpout" "$output"; then
  is_current "$output" || die "cannot move $tmpout to $output"
  log "another run finished first"
  rm -rf "$tmpout"
fi
trap - EXIT

echo "$output"
