#!/usr/bin/env bash
# The main job, end to end, on the generated tiny demo model, as far as Airlock is built:
#   1. set up the host (Debian packages) and build the toolkit,
#   2. build (or reuse) the pinned llama-server and generate the demo model and its adapters,
#   3. build host: make two signing keys, pack the model, adapters and runtime into a signed
#      bundle, add a co-signature, inspect it,
#   4. target host (under a --root folder): trust both keys, require two signatures, verify,
#      show that a tampered copy is refused, install the bundle (--no-start) and show its status,
#   5. add an API client (its key is printed once), start `airlock run` (the installed
#      llama-server on a Unix socket, the gateway on 127.0.0.1:18080) and ask one question
#      through the gateway's OpenAI API with the `claims` adapter, the same of the base model,
#      and show that the key may not use `legal` (404, the same answer as a model that does not exist),
#   6. the compliance officer's check: airlock-audit verify of the demo's audit log
#      (every admin command and every request above left one record),
#   7. the same bundle as systemd services on a plain Debian 12 whose PID 1 is a real systemd (a
#      container of scripts/debian-image.sh, booted by scripts/systemd-container.sh), with Airlock
#      installed there by apt from the signed offline repository scripts/package.sh writes: `airlock install`
#      renders, enables and starts the runtime and gateway units; their state, a chat request
#      through the gateway and their systemd-analyze security scores are shown, and the
#      container is left running so that you can look at the units (the last lines say how;
#      AIRLOCK_DEMO_KEEP_CONTAINER=0 stops it instead).
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

step "target host: install (verified while extracted; --no-start: this step runs it with airlock run)"
"$bin/airlock" --root "$root" install claims-assistant-1.0.0.airlock --no-start
"$bin/airlock" --root "$root" status
cd "$repo"

step "target host: an API client for the claims application (the key is printed once)"
key=$("$bin/airlock" --root "$root" clients add claims-app --adapters claims,claims-assistant --json | jq -r .key)
"$bin/airlock" --root "$root" clients list

port=${AIRLOCK_DEMO_PORT:-18080}
step "target host: airlock run (runtime on a Unix socket, gateway on 127.0.0.1:$port; no systemd)"
"$bin/airlock" --root "$root" run claims-assistant --listen "127.0.0.1:$port" >"$work/run.log" 2>&1 &
run_pid=$!
stop_run() { kill -TERM "$run_pid" 2>/dev/null && wait "$run_pid" 2>/dev/null || true; }
trap 'stop_run' EXIT
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$run_pid" 2>/dev/null || { cat "$work/run.log" >&2; echo "airlock run exited" >&2; exit 1; }
  sleep 0.1
done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || { cat "$work/run.log" >&2; exit 1; }

ask() {  # ask MODEL: one OpenAI chat request through the gateway at temperature 0
  curl -sf "http://127.0.0.1:$port/v1/chat/completions" -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' \
    -d "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"Is water damage covered?\"}],\"max_tokens\":16,\"temperature\":0}" \
    | jq -r '.choices[0].message.content'
}
step "models this key may use (GET /v1/models)"
curl -sf "http://127.0.0.1:$port/v1/models" -H "Authorization: Bearer $key" | jq -r '.data[].id'
step "one chat request through the gateway, model 'claims' (the adapter)"
claims=$(ask claims)
printf 'claims:           %s\n' "$claims"
step "the same request, model 'claims-assistant' (the base model alone)"
base=$(ask claims-assistant)
printf 'claims-assistant: %s\n' "$base"
[[ -n "$claims" && "$claims" != "$base" ]] || { echo "the adapter made no difference" >&2; exit 1; }
step "model 'legal' is not allowed for this key: 404, told apart from a missing model only in the audit log"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/chat/completions" -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' -d '{"model":"legal","messages":[{"role":"user","content":"hi"}]}')
printf 'legal: HTTP %s\n' "$status"
[[ "$status" == 404 ]] || { echo "expected 404" >&2; exit 1; }
stop_run
trap - EXIT

step "compliance: the audit log of everything above (airlock-audit verify)"
"$bin/airlock-audit" --root "$root" verify

container=airlock-demo
step "package: Airlock as a target host gets it (scripts/package.sh: release .deb + signed offline apt repository)"
deb=$(bash scripts/package.sh --output "$work/dist")
ls -l "$deb" >&2
step "services: boot a plain Debian 12 (no Swift, no network; scripts/debian-image.sh) with systemd as PID 1"
image="${XDG_CACHE_HOME:-$HOME/.cache}/airlock/demo-image"
scripts/systemd-container.sh stop "$container" 2>/dev/null || true
rm -rf "$image"
scripts/debian-image.sh unpack "$image"
AIRLOCK_CONTAINER_IMAGE="$image" scripts/systemd-container.sh start "$container" >/dev/null
in_container() { scripts/systemd-container.sh exec "$container" -- "$@"; }
for file in claims-assistant-1.0.0.airlock release.pub.pem security-officer.pub.pem; do
  scripts/systemd-container.sh copy "$container" "$work/$file" "/root/$file"
done
for file in "$work"/dist/airlock-offline-repo/*; do
  scripts/systemd-container.sh copy "$container" "$file" "/media/airlock-offline-repo/$(basename "$file")"
done
step "services: install Airlock there with apt from the offline repository, as its INSTALL says"
in_container sh -ec 'install -d /etc/apt/keyrings
  install -m 0644 /media/airlock-offline-repo/airlock-archive-keyring.gpg /etc/apt/keyrings/
  echo "deb [signed-by=/etc/apt/keyrings/airlock-archive-keyring.gpg] file:/media/airlock-offline-repo ./" >/etc/apt/sources.list.d/airlock.list
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq airlock >/dev/null
  dpkg-query -W airlock'
step "services: airlock install there (as root, --root /): renders, enables and starts both units"
in_container airlock trust add /root/release.pub.pem --names 'claims-*'
in_container airlock trust add /root/security-officer.pub.pem --names 'claims-*'
in_container airlock trust threshold 2
in_container airlock install /root/claims-assistant-1.0.0.airlock
in_container systemctl --no-pager status 'airlock-*@claims-assistant.service' | grep -E '^(●| +(Active|Main PID|Memory):)' || true
step "services: a chat request through the gateway unit (127.0.0.1:8080 inside the container)"
key=$(in_container airlock clients add claims-app --adapters claims)
in_container curl -sf http://127.0.0.1:8080/v1/chat/completions -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' \
  -d '{"model":"claims","messages":[{"role":"user","content":"Is water damage covered?"}],"max_tokens":16,"temperature":0}' \
  | jq -r '"claims: " + .choices[0].message.content'
step "services: systemd-analyze security --offline=true (exposure; lower is better)"
for unit in airlock-runtime@claims-assistant.service airlock-serve@claims-assistant.service; do
  in_container systemd-analyze security --offline=true "/etc/systemd/system/$unit" | grep 'Overall exposure'
done
if [[ ${AIRLOCK_DEMO_KEEP_CONTAINER:-1} == 0 ]]; then
  scripts/systemd-container.sh stop "$container"
else
  cat >&2 <<EOF_HINT

The container '$container' is still running, with both services. Look at them with, e.g.:
  scripts/systemd-container.sh exec $container -- systemctl status 'airlock-*@claims-assistant.service'
  scripts/systemd-container.sh exec $container -- systemctl cat airlock-runtime@claims-assistant.service
  scripts/systemd-container.sh exec $container -- journalctl -u airlock-serve@claims-assistant
  scripts/systemd-container.sh exec $container -- airlock status
Stop it (everything written inside vanishes) with:
  scripts/systemd-container.sh stop $container
EOF_HINT
fi
step "done"
