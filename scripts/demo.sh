#!/usr/bin/env bash
# The main job, end to end, on the generated tiny demo model, as far as Airlock is built:
#   1. set up the host (Debian packages), build the toolkit,
#   2. build (or reuse) the pinned llama-server and generate the demo model and its adapters,
#   3. start llama-server on the demo model, on a Unix socket, with a cleared environment,
#      both adapters loaded at scale 0, and ask it one question with the `claims` adapter applied
#      (and the same question of the base model, to show the adapter at work).
# Later issues extend it until it packs, signs, verifies, installs, serves and audits.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "host setup"
scripts/setup-host.sh
step "build the toolkit (swift build)"
swift build
bin=$(swift build --show-bin-path)
"$bin/airlock" --version >/dev/null
step "test runtime (llama-server, cached under ${XDG_CACHE_HOME:-$HOME/.cache}/airlock/)"
runtime=$(scripts/test-runtime.sh)
echo "$runtime" >&2
step "demo model"
model=$(scripts/demo-model.sh)
ls -l "$model" >&2

work=$(mktemp -d /tmp/airlock-demo.XXXXXX)
socket="$work/runtime.sock"
cleanup() {
  [[ -n "${pid:-}" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

step "start llama-server on $socket (no network, empty environment)"
env -i "$runtime" --model "$model/base.gguf" --host "$socket" --ctx-size 512 --parallel 1 \
  --threads 1 --threads-batch 1 --offline --no-ui --no-slots \
  --lora-scaled "$model/claims.gguf:0,$model/legal.gguf:0" >"$work/runtime.log" 2>&1 &
pid=$!
for _ in $(seq 300); do
  curl -sf --unix-socket "$socket" http://runtime/health >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/runtime.log" >&2; echo "llama-server exited" >&2; exit 1; }
  sleep 0.1
done
curl -sf --unix-socket "$socket" http://runtime/health >/dev/null || { tail "$work/runtime.log" >&2; exit 1; }

ask() {  # ask LORA_JSON: one chat request at temperature 0
  curl -sf --unix-socket "$socket" http://runtime/v1/chat/completions \
    -H 'Content-Type: application/json' \
    -d "{\"messages\":[{\"role\":\"user\",\"content\":\"Is water damage covered?\"}],\"max_tokens\":16,\"temperature\":0,\"lora\":$1}" \
    | jq -r '.choices[0].message.content'
}
step "one request, adapter 'claims'"
claims=$(ask '[{"id":0,"scale":1},{"id":1,"scale":0}]')
printf 'claims: %s\n' "$claims"
step "the same request, base model alone"
base=$(ask '[{"id":0,"scale":0},{"id":1,"scale":0}]')
printf 'base:   %s\n' "$base"
[[ -n "$claims" && "$claims" != "$base" ]] || { echo "the adapter made no difference" >&2; exit 1; }
step "done"
