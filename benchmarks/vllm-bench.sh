#!/usr/bin/env bash
# vLLM benchmarks (issue 18): the vLLM demo bundle (the tiny generated Hugging Face model, its
# two PEFT adapters and the vLLM CPU runtime folder of `airlock-pack runtime vllm`), measured
# against the machine's own floor and against vLLM asked directly, in the same run.
#
#   benchmarks/vllm-bench.sh [REQUESTS]         (default 60 per side and concurrency)
#   BENCH_BUNDLE=FILE:PUBKEY benchmarks/vllm-bench.sh   (a bundle already built: no pack, ~4 min saved)
#   BENCH_BIN=DIR benchmarks/vllm-bench.sh      (airlock, airlock-pack, airlock-serve from DIR; no build)
#   BENCH_RUNS=5 BENCH_INSTALLS=3               (runs of (a) and (b); defaults 5 and 2)
#
# (a) verify: `airlock verify BUNDLE` against `openssl dgst -sha256 BUNDLE` (the same bytes, read
#     from the page cache both times), alternating, BENCH_RUNS runs each.
# (b) install: `airlock install --no-start` into a fresh root (verify while extracting, 55,000
#     files written, flushed, the model checks again) against `openssl dgst -sha256` of the
#     archive, a plain `tar -x` of it into the same disk (no flush), and `openssl dgst -sha256`
#     of the installed plain bytes in one stream (the floor under hashing what verify hashes).
# (c) start: from `airlock run` to the gateway's first 200 chat answer; peak memory: the most
#     resident memory the runtime's processes held together (sampled every 0.2 s through start
#     and load), and the gateway's own.
# (d) the gateway in front of vLLM against vLLM alone over its Unix socket, at concurrency 1 and
#     8, in BENCH_RUNS alternating rounds: latency quantiles, the added median, throughput
#     ratio, the gateway's CPU per request (its /proc CPU time over the gateway's requests).
# Prints a table; Docs/benchmarks.md records the figures. BENCH_RESULTS=DIR keeps the raw JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-60}
runs=${BENCH_RUNS:-5}
installs=${BENCH_INSTALLS:-2}
if [[ -n ${BENCH_BIN:-} ]]; then
  bin=$BENCH_BIN
else
  swift build -c release >&2
  bin=$(swift build -c release --show-bin-path)
fi
for tool in airlock airlock-pack airlock-serve; do
  [[ -x $bin/$tool ]] || { echo "missing $bin/$tool: swift build -c release" >&2; exit 1; }
done
work=$(mktemp -d "${BENCH_DIR:-/tmp}/airlock-vllm-bench.XXXXXX")
run_pid=""
sampler_pid=""
cleanup() {
  [[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null
  if [[ -n $run_pid ]]; then kill -TERM "$run_pid" 2>/dev/null || true; wait "$run_pid" 2>/dev/null || true; fi
  if [[ -n ${BENCH_RESULTS:-} ]]; then mkdir -p "$BENCH_RESULTS" && cp "$work"/*.json "$work"/*.log "$BENCH_RESULTS"/ 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
state() { echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"; }
seconds() { python3 -c 'import time; print(time.monotonic())'; }

if [[ -n ${BENCH_BUNDLE:-} ]]; then
  bundle=${BENCH_BUNDLE%%:*}
  pub=${BENCH_BUNDLE#*:}
else
  echo "== packing the vLLM demo bundle" >&2
  runtime=$(AIRLOCK_PACK="$bin/airlock-pack" scripts/vllm-runtime.sh)
  model=$(scripts/hf-model.sh)
  mkdir -p "$work/input/model" "$work/input/runtime"
  cp bundle/demo-hf/bundle.yaml "$work/input/"
  cp -r "$model/base" "$model/adapters" "$work/input/model/"
  cp -al "$runtime" "$work/input/runtime/vllm-cpu" 2>/dev/null || cp -a "$runtime" "$work/input/runtime/vllm-cpu"
  "$bin/airlock-pack" keygen --output "$work/release.pem" >/dev/null
  "$bin/airlock-pack" build "$work/input/bundle.yaml" --key "$work/release.pem" --output "$work/bundle.airlock" >/dev/null
  rm -rf "$work/input"
  bundle=$work/bundle.airlock
  pub=$work/release.pub.pem
fi
size=$(stat -c %s "$bundle")
echo "machine at start: $(state); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); bundle $size bytes" >&2

trusted_root() {  # trusted_root DIR: a target root that trusts the bundle's key
  "$bin/airlock" --root "$1" trust add "$pub" --names 'claims-*' >/dev/null
}
timed() {  # timed CMD...: seconds it took (stdout), its output to $work/timed.log
  local start end
  start=$(seconds)
  "$@" >"$work/timed.log" 2>&1 || { cat "$work/timed.log" >&2; echo "failed: $*" >&2; exit 1; }
  end=$(seconds)
  python3 -c "print($end - $start)"
}

echo "== (a) verify vs openssl dgst -sha256, $runs runs each" >&2
trusted_root "$work/verify-root"
cat "$bundle" >/dev/null  # into the page cache for both
: >"$work/a.txt"
for run in $(seq "$runs"); do
  if (( run % 2 )); then
    echo "openssl $(timed openssl dgst -sha256 "$bundle")" >>"$work/a.txt"
    echo "verify $(timed "$bin/airlock" --root "$work/verify-root" verify "$bundle")" >>"$work/a.txt"
  else
    echo "verify $(timed "$bin/airlock" --root "$work/verify-root" verify "$bundle")" >>"$work/a.txt"
    echo "openssl $(timed openssl dgst -sha256 "$bundle")" >>"$work/a.txt"
  fi
done

echo "== (b) install vs openssl dgst and tar -x, $installs runs each" >&2
: >"$work/b.txt"
for run in $(seq "$installs"); do
  rm -rf "$work/install-root" "$work/untar"
  trusted_root "$work/install-root"
  echo "install $(timed "$bin/airlock" --root "$work/install-root" install "$bundle" --no-start)" >>"$work/b.txt"
  echo "openssl $(timed openssl dgst -sha256 "$bundle")" >>"$work/b.txt"
  mkdir -p "$work/untar"
  echo "tar $(timed tar -xf "$bundle" -C "$work/untar")" >>"$work/b.txt"
  echo "files $(find "$work/untar" -type f | wc -l)" >>"$work/b.txt"
  rm -rf "$work/untar"
  # The same bytes as they are once installed (plain, 2.3 GB for the vLLM runtime): hashing them
  # alone, read from the page cache in one stream, is the floor under verifying them.
  ( cd "$work/install-root" && find . -type f -print0 | sort -z | xargs -0 cat ) >/dev/null
  echo "plainhash $(timed sh -c "cd '$work/install-root' && find . -type f -print0 | sort -z | xargs -0 cat | openssl dgst -sha256")" >>"$work/b.txt"
  echo "plainbytes $(cd "$work/install-root" && find . -type f -printf '%s\n' | awk '{t+=$1} END {print t}')" >>"$work/b.txt"
done
root=$work/install-root
mkdir -p "$root/etc/airlock"
printf 'limits:\n  client_concurrency: 16\n' >"$root/etc/airlock/gateway.yaml"
key=$("$bin/airlock" --root "$root" clients add bench --adapters '*' --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
name=claims-assistant-hf
socket="$root/run/airlock/$name/runtime.sock"

echo "== (c) start: airlock run to the first answer" >&2
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start=$(seconds)
"$bin/airlock" --root "$root" run "$name" --listen "127.0.0.1:$port" >"$work/run.log" 2>&1 &
run_pid=$!
# Resident memory of airlock run's process tree (runtime and gateway apart), every 0.2 s.
python3 - "$run_pid" >"$work/memory.json" <<'PY' &
import json, os, signal, sys, time
top = int(sys.argv[1])
peak = {"runtime_kib": 0, "gateway_kib": 0}
stop = False
def done(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, done)
def children(pid):
    # Each thread has its own list: airlock run and vLLM start processes from other threads.
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found
def rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
def cmd(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""
while not stop and os.path.exists(f"/proc/{top}"):
    gateway = runtime = 0
    for child in children(top):
        tree, stack = [], [child]
        while stack:
            pid = stack.pop()
            tree.append(pid)
            stack += children(pid)
        total = sum(rss(p) for p in tree)
        if b"airlock-serve" in cmd(child):
            gateway += total
        else:
            runtime += total
    peak["runtime_kib"] = max(peak["runtime_kib"], runtime)
    peak["gateway_kib"] = max(peak["gateway_kib"], gateway)
    time.sleep(0.2)
print(json.dumps(peak))
PY
sampler_pid=$!
ready=""
for _ in $(seq 3000); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"model":"claims","messages":[{"role":"user","content":"ping"}],"max_tokens":1}' \
    "http://127.0.0.1:$port/v1/chat/completions" 2>/dev/null || true)
  if [[ $code == 200 ]]; then ready=$(python3 -c "print($(seconds) - $start)"); break; fi
  kill -0 "$run_pid" 2>/dev/null || { cat "$work/run.log" >&2; echo "airlock run exited" >&2; exit 1; }
  sleep 0.2
done
[[ -n $ready ]] || { cat "$work/run.log" >&2; echo "no answer within 600 s" >&2; exit 1; }

echo "== (d) gateway vs vLLM alone, concurrency 1 and 8, $runs rounds, $requests requests per side" >&2
gateway=$(pgrep -P "$run_pid" -f airlock-serve | head -1)
python3 benchmarks/gateway_load.py compare --engine vllm --socket "$socket" --port "$port" --key "$key" \
  --requests "$requests" --rounds "$runs" --warmup 8 --max-tokens 8 --gateway-pid "$gateway" --concurrency 1 8 >"$work/d.json"
kill -TERM "$sampler_pid"; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""
kill -TERM "$run_pid"; wait "$run_pid" 2>/dev/null || true; run_pid=""

python3 - "$work" "$ready" "$size" "$(state)" <<'PY'
import json, os, statistics, sys
work, ready, size, state = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def pairs(name):
    values = {}
    with open(os.path.join(work, name)) as f:
        for line in f:
            key, value = line.split()
            values.setdefault(key, []).append(float(value))
    return values
def spread(values):
    return f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f}, n {len(values)})"
a, b = pairs("a.txt"), pairs("b.txt")
gib = size / 2**30
print(f"\nmachine at the end: {state}; bundle {gib:.2f} GiB")
print("\n(a) verify, page cache warm")
print(f"  openssl dgst -sha256: {spread(a['openssl'])}")
print(f"  airlock verify:       {spread(a['verify'])}")
ratios = [o / v for o, v in zip(a["openssl"], a["verify"])]
print(f"  openssl/verify per run pair: median {statistics.median(ratios):.2f}x (min {min(ratios):.2f}, max {max(ratios):.2f}); "
      f"verify {gib / statistics.median(a['verify']):.2f} GiB/s")
print("\n(b) install (no start) into a fresh root")
print(f"  airlock install: {spread(b['install'])}")
print(f"  openssl dgst:    {spread(b['openssl'])}")
print(f"  tar -x:          {spread(b['tar'])} ({int(b['files'][0])} files)")
print(f"  openssl dgst of the installed plain bytes ({b['plainbytes'][0] / 2**30:.2f} GiB, one stream): {spread(b['plainhash'])}")
print(f"  install/tar {statistics.median(b['install']) / statistics.median(b['tar']):.2f}x, "
      f"install/openssl {statistics.median(b['install']) / statistics.median(b['openssl']):.2f}x, "
      f"install/plain-bytes hash {statistics.median(b['install']) / statistics.median(b['plainhash']):.2f}x")
print(f"  verify/plain-bytes hash {statistics.median(a['verify']) / statistics.median(b['plainhash']):.2f}x "
      f"(verify decompresses and hashes the same plain bytes, and checks each entry)")
with open(os.path.join(work, "memory.json")) as f:
    memory = json.load(f)
print(f"\n(c) start to first answer {ready:.1f} s; peak resident memory: runtime processes "
      f"{memory['runtime_kib'] / 1024:.0f} MiB together, gateway {memory['gateway_kib'] / 1024:.1f} MiB")
with open(os.path.join(work, "d.json")) as f:
    d = json.load(f)
def q(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))] if values else float("nan")
print("\n(d) vLLM alone (Unix socket) vs through the gateway (TCP), 8 tokens, temperature 0")
print(f"{'configuration':<26} {'reqs':>5} {'req/s':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>6}  round medians ms")
for conc in (1, 8):
    for side in ("direct", "gateway"):
        r = d[f"{side} c{conc}"]
        n = len(r["latencies"])
        blocks = " ".join(f"{1000 * blk['median']:.0f}" for blk in r["blocks"] if blk["median"] is not None)
        print(f"{side + ', concurrency ' + str(conc):<26} {n:>5} {n / r['wall']:>7.2f} {1000 * q(r['latencies'], .5):>8.1f} "
              f"{1000 * q(r['latencies'], .9):>8.1f} {1000 * q(r['latencies'], .99):>8.1f} {r['errors']:>6}  {blocks}")
        for error in r["first_errors"]:
            print(f"    {error}")
for conc in (1, 8):
    direct, gateway = d[f"direct c{conc}"], d[f"gateway c{conc}"]
    added = 1000 * (q(gateway["latencies"], .5) - q(direct["latencies"], .5))
    per_round = [1000 * (g["median"] - x["median"]) for g, x in zip(gateway["blocks"], direct["blocks"])
                 if g["median"] is not None and x["median"] is not None]
    ratio = (len(gateway["latencies"]) / gateway["wall"]) / (len(direct["latencies"]) / direct["wall"])
    cpu = 1000 * gateway["gateway_cpu_s"] / max(1, gateway["gateway_measured"])
    print(f"concurrency {conc}: added median {added:+.1f} ms (per round {', '.join(f'{x:+.1f}' for x in per_round)}); "
          f"throughput gateway/direct {ratio:.3f}; gateway CPU {cpu:.2f} ms per request")
PY
