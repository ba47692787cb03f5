#!/usr/bin/env bash
# The main job, end to end, on the generated tiny demo model, as far as Airlock is built:
#   1. set up the host (Debian packages) and build the toolkit,
#   2. build (or reuse) the pinned llama-server and generate the demo model and its adapters,
#   3. build host: make two signing keys, pack the model, adapters and runtime into a signed
#      bundle, add a co-signature, inspect it,
#   4. target host (under a --root folder): trust both keys, require two signatures, verify,
#      show that a tampered copy is refused, install the bundle (--no-start) and show its status,
#   5. start the installed llama-server on the installed demo model (Unix socket, empty
#      environment) and ask one question with the `claims` adapter, and the same of the base model.
#   6. end with the compliance officer's check: airlock-audit verify of the demo's audit log
#      (every admin command above left one record).
# Later issues extend it until it serves through the gateway under systemd.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

step() { printf '\n== %s\n' "$*" >&2; }

step "host setup"
scripts/setup-host.sh
step "build the toolkit (swift build)"
swift build
bin=$(swift build --show-bin-path)
step "test runtime (llama-server, cached under ${XDG_CACHE_HOME:-$HOME/.cache}/airlock/)"
runtime=$(scripts/test-runtime.sh)
echo "$runtime" >&2
step "demo model"
model=$(scripts/demo-model.sh)
ls -l "$model" >&2

work=$(mktemp -d /tmp/airlock-demo.XXXXXX)
cleanup() {
  [[ -n "${pid:-}" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
root="$work/target-root"

step "build host: signing keys"
cd "$work"
"$bin/airlock-pack" keygen --output release.pem
"$bin/airlock-pack" keygen --algorithm ed25519 --output security-officer.pem

step "build host: pack and sign the bundle"
mkdir -p input/model input/runtime/cpu-generic
cp "$repo/bundle/demo/bundle.yaml" input/
cp "$model/base.gguf" "$model/claims.gguf" "$model/legal.gguf" input/model/
cp "$runtime" input/runtime/cpu-generic/llama-server
"$bin/airlock-pack" build input/bundle.yaml --key release.pem --output claims-assistant-1.0.0.airlock
"$bin/airlock-pack" sign claims-assistant-1.0.0.airlock --key security-officer.pem
"$bin/airlock-pack" inspect claims-assistant-1.0.0.airlock

step "target host: trust both keys for claims-*, require two signatures, verify"
"$bin/airlock" --root "$root" trust add release.pub.pem --names 'claims-*'
"$bin/airlock" --root "$root" trust add security-officer.pub.pem --names 'claims-*'
"$bin/airlock" --root "$root" trust threshold 2
"$bin/airlock" --root "$root" verify claims-assistant-1.0.0.airlock

step "target host: a copy with one flipped byte is refused"
cp claims-assistant-1.0.0.airlock tampered.airlock
size=$(stat -c %s tampered.airlock)
printf '\x00' | dd of=tampered.airlock bs=1 seek=$((size - 20000)) conv=notrunc status=none
if "$bin/airlock" --root "$root" verify tampered.airlock; then
  echo "a tampered bundle verified" >&2; exit 1
fi

step "target host: install (verified while extracted; services come later, hence --no-start)"
"$bin/airlock" --root "$root" install claims-assistant-1.0.0.airlock --no-start
"$bin/airlock" --root "$root" status
cd "$repo"

installed="$root/var/lib/airlock/claims-assistant/current"
step "start the installed llama-server on $work/runtime.sock (no network, empty environment)"
socket="$work/runtime.sock"
env -i "$installed/runtime/cpu-generic/llama-server" --model "$installed/base/base.gguf" --host "$socket" \
  --ctx-size 512 --parallel 1 --threads 1 --threads-batch 1 --offline --no-ui --no-slots \
  --lora-scaled "$installed/adapters/claims/claims.gguf:0,$installed/adapters/legal/legal.gguf:0" >"$work/runtime.log" 2>&1 &
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

step "compliance: the audit log of everything above (airlock-audit verify)"
"$bin/airlock-audit" --root "$root" verify
step "done"
