#!/usr/bin/env bash
# Bundle benchmarks: build and verify of a bundle holding one large weights file, each against
# a baseline measured in the same run on the same bytes, with peak memory.
#
#   benchmarks/bundle-bench.sh [SIZE_GIB]        (default 4; needs about 6 × SIZE free disk)
#
# Baselines: `openssl dgst -sha256` of the weights (one core, SHA-NI) for verify;
# `tar -cf - FILES | zstd -1 -T0 > out` for build; for install, a durable copy of the bundle's
# bytes to the same file system, `dd bs=4M conv=fsync` (through the page cache) and
# `dd bs=4M oflag=direct conv=fsync` (around it): install writes and flushes every byte, so it
# can be no faster than the faster of these copies. Uses the release build (swift build -c
# release). Prints a table; Docs/benchmarks.md records the figures.
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
  measure "airlock install --no-start" "$bin/airlock" --root "$root" install "$work/bench.airlock" --no-start
  sync
  measure "dd conv=fsync of the bundle (baseline)" dd if="$work/bench.airlock" of="$work/copy" bs=4M conv=fsync status=none
  rm -f "$work/copy"; sync
  measure "dd oflag=direct conv=fsync (baseline)" dd if="$work/bench.airlock" of="$work/copy" bs=4M oflag=direct conv=fsync status=none
  rm -f "$work/copy"
  if [[ -w /proc/sys/vm/drop_caches ]]; then  # the same reading the bundle from disk
    "$bin/airlock" --root "$root" remove bench --force >/dev/null
    sync; echo 3 >/proc/sys/vm/drop_caches
    measure "airlock verify, cold page cache" "$bin/airlock" --root "$root" verify "$work/bench.airlock"
    sync; echo 3 >/proc/sys/vm/drop_caches
    measure "airlock install --no-start, cold page cache" "$bin/airlock" --root "$root" install "$work/bench.airlock" --no-start --allow-downgrade
    sync; echo 3 >/proc/sys/vm/drop_caches
    measure "dd oflag=direct conv=fsync, cold (baseline)" dd if="$work/bench.airlock" of="$work/copy" bs=4M oflag=direct conv=fsync status=none
    rm -f "$work/copy"
  fi
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

# Activation and rollback switch a link: time them on the installed 4 GiB bundle (second version
# installed from a rebuilt bundle with a higher version).
sed -i 's/^version: 1.0.0/version: 1.1.0/' "$work/input/bundle.yaml"
"$bin/airlock-pack" build "$work/input/bundle.yaml" --key "$work/key.pem" --output "$work/bench-1.1.airlock" >/dev/null
"$bin/airlock" --root "$root" install "$work/bench-1.1.airlock" --no-start >/dev/null
python3 - "$bin/airlock" "$root" <<'PY'
import subprocess, sys, time
airlock, root = sys.argv[1:]
def timed(*args):
    start = time.monotonic()
    subprocess.run([airlock, "--root", root, *args], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start
noop = min(timed("list") for _ in range(5))
rollback = min(timed("rollback", "bench") for _ in range(1))
activate = min(timed("activate", "bench", "1.1.0") for _ in range(1))
print(f"\nrollback {rollback*1000:.0f} ms, activate {activate*1000:.0f} ms, process start + 'list' {noop*1000:.0f} ms (4 GiB model; goal: under 50 ms of work)")
PY
python3 - "$(get 'openssl dgst -sha256 (baseline)')" "$(get 'airlock verify')" "$(get 'tar | zstd -1 -T0 (baseline)')" "$(get 'airlock-pack build')" "$(get 'tar | zstd -1 -T0, then sync (baseline)')" <<'PY'
import sys
dgst, verify, tar, build, tar_sync = map(float, sys.argv[1:])
print(f"\nverify speed vs openssl dgst: {dgst / verify:.2f}x  (goal: at least 1.6x)")
print(f"build time vs tar | zstd -1 -T0: {build / tar:.2f}x  (goal: at most 1.0x; the build fsyncs its output, tar does not)")
print(f"build time vs tar | zstd -1 -T0 then sync: {build / tar_sync:.2f}x")
PY
# install against (a) verify and (b) the durable copy of the same bytes, warm and cold.
python3 - "$(get 'airlock verify')" "$(get 'airlock install --no-start')" "$(get 'dd conv=fsync of the bundle (baseline)')" \
  "$(get 'dd oflag=direct conv=fsync (baseline)')" "$(get 'airlock verify, cold page cache')" \
  "$(get 'airlock install --no-start, cold page cache')" "$(get 'dd oflag=direct conv=fsync, cold (baseline)')" <<'PY'
import sys
verify, install, dd_buffered, dd_direct = map(float, sys.argv[1:5])
copy = min(dd_buffered, dd_direct)
print(f"\ndurable copy of the bundle: {copy:.2f} s (the faster of dd conv=fsync {dd_buffered:.2f} s and dd oflag=direct {dd_direct:.2f} s)")
print(f"install time vs verify: {install / verify:.2f}x  (issue 4's goal: at most 1.3x; install writes and fsyncs every byte, verify only reads)")
print(f"install time vs the durable copy: {install / copy:.2f}x")
print(f"install time vs max(verify, durable copy): {install / max(verify, copy):.2f}x  (restated goal: at most 1.3x)")
if sys.argv[5]:
    cold_verify, cold_install, cold_copy = map(float, sys.argv[5:8])
    print(f"cold page cache: install vs verify {cold_install / cold_verify:.2f}x, vs dd oflag=direct {cold_install / cold_copy:.2f}x, "
          f"vs max of the two {cold_install / max(cold_verify, cold_copy):.2f}x")
PY
