#!/usr/bin/env bash
# Bundle benchmarks: build and verify of a bundle holding one large weights file, each against
# a baseline measured in the same run on the same bytes, with peak memory.
#
#   benchmarks/bundle-bench.sh [SIZE_GIB]        (default 4; needs about 3 × SIZE free disk)
#
# Baselines: `openssl dgst -sha256` of the weights (one core, SHA-NI) for verify;
# `tar -cf - FILES | zstd -1 -T0 > out` for build. Uses the release build (swift build -c release).
# Prints a table; Docs/benchmarks.md records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
size_gib=${1:-4}
bin=$(swift build -c release --show-bin-path)
[[ -x $bin/airlock-pack ]] || { echo "build first: swift build -c release" >&2; exit 1; }
runtime=$(scripts/test-runtime.sh)
work=$(mktemp -d "${BENCH_DIR:-/tmp}/airlock-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# measure LABEL CMD...: wall seconds and peak resident KiB of the command (and its children).
measure() {
  local label=$1; shift
  python3 - "$label" "$@" <<'PY'
import resource, subprocess, sys, time
label, command = sys.argv[1], sys.argv[2:]
start = time.monotonic()
subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
elapsed = time.monotonic() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"{label}\t{elapsed:.3f}\t{peak}")
PY
}

echo "preparing ${size_gib} GiB of incompressible weights in $work" >&2
mkdir -p "$work/input/model" "$work/input/runtime/cpu-generic"
{ openssl enc -aes-128-ctr -pass pass:airlock-bench -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } \
  | head -c "$((size_gib << 30))" >"$work/input/model/base.gguf"
head -c $((64 << 20)) "$work/input/model/base.gguf" >"$work/small.gguf"
cp "$runtime" "$work/input/runtime/cpu-generic/llama-server"
cat >"$work/input/bundle.yaml" <<YAML
name: bench
version: 1.0.0
base: { path: model/base.gguf, format: gguf }
runtimes:
  - { variant: cpu-generic, path: runtime/cpu-generic/ }
YAML
cat >"$work/small.yaml" <<YAML
name: bench-small
version: 1.0.0
base: { path: small.gguf, format: gguf }
runtimes:
  - { variant: cpu-generic, path: input/runtime/cpu-generic/ }
YAML
"$bin/airlock-pack" keygen --output "$work/key.pem" >/dev/null
root="$work/root"
"$bin/airlock" --root "$root" trust add "$work/key.pub.pem" >/dev/null
cat "$work/input/model/base.gguf" >/dev/null  # warm the page cache: every run reads from memory

results=$(
  measure "openssl dgst -sha256 (baseline)" openssl dgst -sha256 "$work/input/model/base.gguf"
  measure "tar | zstd -1 -T0 (baseline)" bash -c "cd '$work/input' && tar -cf - bundle.yaml model runtime | zstd -q -1 -T0 > '$work/baseline.tar.zst'"
  rm -f "$work/baseline.tar.zst"
  measure "tar | zstd -1 -T0, then sync (baseline)" bash -c "cd '$work/input' && tar -cf - bundle.yaml model runtime | zstd -q -1 -T0 > '$work/baseline.tar.zst' && sync '$work/baseline.tar.zst'"
  rm -f "$work/baseline.tar.zst"
  measure "airlock-pack build" "$bin/airlock-pack" build "$work/input/bundle.yaml" --key "$work/key.pem" --output "$work/bench.airlock"
  measure "airlock verify" "$bin/airlock" --root "$root" verify "$work/bench.airlock"
  "$bin/airlock-pack" build "$work/small.yaml" --key "$work/key.pem" --output "$work/small.airlock" >/dev/null
  measure "airlock verify (64 MiB bundle)" "$bin/airlock" --root "$root" verify "$work/small.airlock"
)
echo
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); weights ${size_gib} GiB"
printf '%-44s %9s %12s\n' "run" "seconds" "peak MiB"
while IFS=$'\t' read -r label seconds peak; do
  printf '%-44s %9s %12s\n' "$label" "$seconds" "$((peak / 1024))"
done <<<"$results"
get() { awk -F'\t' -v l="$1" '$1 == l { print $2 }' <<<"$results"; }
python3 - "$(get 'openssl dgst -sha256 (baseline)')" "$(get 'airlock verify')" "$(get 'tar | zstd -1 -T0 (baseline)')" "$(get 'airlock-pack build')" "$(get 'tar | zstd -1 -T0, then sync (baseline)')" <<'PY'
import sys
dgst, verify, tar, build, tar_sync = map(float, sys.argv[1:])
print(f"\nverify speed vs openssl dgst: {dgst / verify:.2f}x  (goal: at least 1.6x)")
print(f"build time vs tar | zstd -1 -T0: {build / tar:.2f}x  (goal: at most 1.0x; the build fsyncs its output, tar does not)")
print(f"build time vs tar | zstd -1 -T0 then sync: {build / tar_sync:.2f}x")
PY
