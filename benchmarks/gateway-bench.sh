#!/usr/bin/env bash
# Gateway benchmarks: the demo bundle served by `airlock run` (real llama-server, real demo
# model and adapters), measured against llama-server asked directly in the same run on the same
# requests.
#
#   benchmarks/gateway-bench.sh [REQUESTS]      (default 300 per configuration; as root for (c))
#   BENCH_ROUNDS=12 benchmarks/gateway-bench.sh 600   (more interleaved rounds: a steadier figure)
#   BENCH_PARTS=c benchmarks/gateway-bench.sh          (only some of the parts below; default abc)
#   BENCH_BIN=DIR benchmarks/gateway-bench.sh          (airlock, airlock-pack, airlock-serve from DIR; no build)
#
# (a) direct vs gateway at concurrency 1 and 8: requests/s, completion tokens/s, latency
#     median/p90/p99; direct requests carry the exact body the gateway forwards (messages,
#     max_tokens, temperature 0, the `lora` list, cache_prompt false) over the Unix socket.
# (b) through the gateway and directly: switching adapter on every request vs the same requests grouped by
#     adapter (one switch per round).
# (c) the audit write's share: (a) at concurrency 1 again, with ROOT/var/log/airlock on the
#     normal disk and then on a tmpfs mounted over it (needs root; skipped otherwise).
# Fixed prompt, max_tokens 16, temperature 0; a warm-up before each part; requests split into
# interleaved rounds so that drift in the machine's load hits both sides alike; before each
# gateway block the load generator waits until the gateway's /health reports the runtime up
# (and counts the blocks that had to wait: see "health" in Docs/benchmarks.md). Uses the
# release build (swift build -c release) and benchmarks/gateway_load.py (Python stdlib only).
# Prints a table; Docs/benchmarks.md records the figures. BENCH_RESULTS=DIR keeps the raw
# measurements (JSON, every latency) and the logs of `airlock run` there.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
requests=${1:-300}
if [[ -n ${BENCH_BIN:-} ]]; then
  bin=$BENCH_BIN  # prebuilt binaries (an A/B comparison of two builds without rebuilding between runs)
else
  swift build -c release >&2
  bin=$(swift build -c release --show-bin-path)
fi
for tool in airlock airlock-pack airlock-serve; do
  [[ -x $bin/$tool ]] || { echo "missing $bin/$tool: swift build -c release" >&2; exit 1; }
done
runtime=$(scripts/test-runtime.sh)
model=$(scripts/demo-model.sh)
work=$(mktemp -d "${BENCH_DIR:-/tmp}/airlock-gateway-bench.XXXXXX")
root="$work/root"
auditdir="$root/var/log/airlock"
run_pid=""

stop_run() {
  [[ -n $run_pid ]] || return 0
  kill -TERM "$run_pid" 2>/dev/null || true
  wait "$run_pid" 2>/dev/null || true
  run_pid=""
}
cleanup() {
  stop_run
  if mountpoint -q "$auditdir" 2>/dev/null; then umount "$auditdir"; fi
  if [[ -n ${BENCH_RESULTS:-} ]]; then mkdir -p "$BENCH_RESULTS" && cp "$work"/*.json "$work"/*.log "$BENCH_RESULTS"/ 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# The demo bundle, as scripts/demo.sh builds it (one signing key).
mkdir -p "$work/input/model" "$work/input/runtime/cpu-generic"
cp bundle/demo/bundle.yaml "$work/input/"
cp "$model/base.gguf" "$model/claims.gguf" "$model/legal.gguf" "$work/input/model/"
cp "$runtime" "$work/input/runtime/cpu-generic/llama-server"
"$bin/airlock-pack" keygen --output "$work/release.pem" >/dev/null
"$bin/airlock-pack" build "$work/input/bundle.yaml" --key "$work/release.pem" --output "$work/demo.airlock" >/dev/null
"$bin/airlock" --root "$root" trust add "$work/release.pub.pem" --names 'claims-*' >/dev/null
"$bin/airlock" --root "$root" install "$work/demo.airlock" --no-start >/dev/null
# One client sends all the load: let it hold 8 requests in flight (the default is 4).
mkdir -p "$root/etc/airlock"
printf 'limits:\n  client_concurrency: 16\n' >"$root/etc/airlock/gateway.yaml"
key=$("$bin/airlock" --root "$root" clients add bench --adapters '*' --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
# /metrics answers only a key whose client may read it.
metrics_key=$("$bin/airlock" --root "$root" clients add bench-metrics --metrics --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
socket="$root/run/airlock/claims-assistant/runtime.sock"

start_run() {  # start_run LOG: airlock run on a free port; sets port and run_pid
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$bin/airlock" --root "$root" run claims-assistant --listen "127.0.0.1:$port" >"$1" 2>&1 &
  run_pid=$!
  for _ in $(seq 600); do
    if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && [[ -S $socket ]]; then return 0; fi
    kill -0 "$run_pid" 2>/dev/null || { cat "$1" >&2; echo "airlock run exited" >&2; exit 1; }
    sleep 0.1
  done
  cat "$1" >&2; echo "the gateway did not become ready" >&2; exit 1
}
load() {
  local gateway
  gateway=$(pgrep -P "$run_pid" -f airlock-serve | head -1)
  python3 benchmarks/gateway_load.py "$@" --port "$port" --key "$key" --requests "$requests" --rounds "${BENCH_ROUNDS:-6}" --gateway-pid "$gateway"
}
state() { echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"; }

echo "machine at start: $(state); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" >&2
start_run "$work/run-disk.log"
echo "runtime: $(ps -o args= -p "$(pgrep -P "$run_pid" -f llama-server | head -1)" 2>/dev/null | sed "s|$root|ROOT|g")" >&2
parts=${BENCH_PARTS:-abc}
for part in a b c; do echo '{}' >"$work/$part.json"; done
echo '{}' >"$work/c-disk.json"
if [[ $parts == *a* ]]; then
  echo "== (a) direct vs gateway, concurrency 1 and 8 ($requests requests each)" >&2
  load compare --socket "$socket" --concurrency 1 8 >"$work/a.json"
fi
if [[ $parts == *b* ]]; then
  echo "== (b) alternating adapters vs grouped, through the gateway and directly" >&2
  load adapters --socket "$socket" --concurrency 1 8 >"$work/b.json"
fi
if [[ $parts == *c* ]]; then
  echo "== (c) audit log on disk ($(findmnt -no FSTYPE -T "$auditdir")), concurrency 1" >&2
  curl -sf -H "Authorization: Bearer $metrics_key" "http://127.0.0.1:$port/metrics" >"$work/c-disk-before.metrics"
  load compare --socket "$socket" --concurrency 1 >"$work/c-disk.json"
  curl -sf -H "Authorization: Bearer $metrics_key" "http://127.0.0.1:$port/metrics" >"$work/c-disk-after.metrics"
  # The floor under any durable audit write: the disk's own 700-byte append + fdatasync in the
  # same folder, back to back and with the idle gap a request at concurrency 1 leaves between
  # two writes (this VM's disk is slower after idle, whatever writes to it).
  python3 - "$auditdir" >"$work/c-fdatasync.json" <<'PY'
import json, os, statistics, sys, time
path = os.path.join(sys.argv[1], ".bench-fdatasync")
result = {}
for name, gap in (("back_to_back", 0), ("after_6ms_idle", 0.006)):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    times = []
    for _ in range(400):
        if gap:
            time.sleep(gap)
        start = time.perf_counter()
        os.write(fd, b"x" * 699 + b"\n")
        os.fdatasync(fd)
        times.append(time.perf_counter() - start)
    os.close(fd)
    result[name] = statistics.median(times)
os.unlink(path)
print(json.dumps(result))
PY
fi
stop_run
state_end="$(state)"
if [[ $parts != *c* ]]; then
  echo '{}' >"$work/c-tmpfs.json"
elif [[ $(id -u) -eq 0 ]]; then
  echo "== (c) audit log on tmpfs, concurrency 1" >&2
  cp -a "$auditdir" "$work/audit-saved"
  mount -t tmpfs -o size=64m,mode=0750 airlock-bench-audit "$auditdir"
  cp -a "$work/audit-saved/." "$auditdir/"
  start_run "$work/run-tmpfs.log"
  curl -sf -H "Authorization: Bearer $metrics_key" "http://127.0.0.1:$port/metrics" >"$work/c-tmpfs-before.metrics"
  load compare --socket "$socket" --concurrency 1 >"$work/c-tmpfs.json"
  curl -sf -H "Authorization: Bearer $metrics_key" "http://127.0.0.1:$port/metrics" >"$work/c-tmpfs-after.metrics"
  stop_run
  umount "$auditdir"
else
  echo '{}' >"$work/c-tmpfs.json"
  echo "(c) on tmpfs skipped: mounting a tmpfs needs root" >&2
fi
records=$(cat "$auditdir"/*.jsonl 2>/dev/null | wc -l || true)

python3 - "$work" "$(state)" "$state_end" <<'PY'
import json, os, statistics, sys
work, state_now, state_mid = sys.argv[1:]
def load(name):
    with open(os.path.join(work, name)) as f:
        return json.load(f)
a, b, c_disk, c_tmpfs = load("a.json"), load("b.json"), load("c-disk.json"), load("c-tmpfs.json")
# The figures the goals are stated in, for benchmarks/gateway-goals.sh (written at the end).
summary = {}

def q(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))]
def row(label, r):
    n = len(r["latencies"])
    return (f"{label:<34} {n:>5} {n / r['wall']:>8.1f} {r['tokens'] / r['wall']:>9.1f} "
            f"{1000 * q(r['latencies'], 0):>8.2f} {1000 * q(r['latencies'], .25):>8.2f} {1000 * q(r['latencies'], .5):>8.2f} {1000 * q(r['latencies'], .9):>8.2f} {1000 * q(r['latencies'], .99):>8.2f} "
            f"{r['errors']:>6}")
def errors(label, r):
    if r.get("health_waits"):
        print(f"  {label}: {r['health_waits']} of its blocks waited for the gateway to see the runtime up again")
    for error in r["first_errors"]:
        print(f"  {label}: {error}")
def rps(r): return len(r["latencies"]) / r["wall"]
def med(r): return q(r["latencies"], .5)
header = f"{'configuration':<34} {'reqs':>5} {'req/s':>8} {'tok/s':>9} {'min ms':>8} {'p25 ms':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>6}"

print(f"\nmachine: {state_mid} after (a)-(c disk); {state_now} at the end")
print("\n(a) direct llama-server (Unix socket) vs through the gateway (TCP), same requests")
print(header)
for conc in ((1, 8) if a else ()):
    for side in ("direct", "gateway"):
        print(row(f"{side}, concurrency {conc}", a[f"{side} c{conc}"]))
        errors(side, a[f"{side} c{conc}"])
for conc in ((1, 8) if a else ()):
    d, g = a[f"direct c{conc}"], a[f"gateway c{conc}"]
    print(f"concurrency {conc}: gateway/direct throughput {rps(g) / rps(d):.3f} (goal >= 0.95); "
          f"added median latency {1000 * (med(g) - med(d)):+.2f} ms (goal < 1 ms; at p25 {1000 * (q(g['latencies'], .25) - q(d['latencies'], .25)):+.2f} ms)")
    mean = lambda r: statistics.mean(r["latencies"])
    summary[f"c{conc}"] = {
        "throughput_ratio": rps(g) / rps(d), "added_median_ms": 1000 * (med(g) - med(d)),
        "added_mean_ms": 1000 * (mean(g) - mean(d)), "p99_direct_ms": 1000 * q(d["latencies"], .99),
        "p99_gateway_ms": 1000 * q(g["latencies"], .99)}
    print(f"concurrency {conc}: added mean latency {1000 * (mean(g) - mean(d)):+.2f} ms; p99 {1000 * q(d['latencies'], .99):.1f} ms direct, "
          f"{1000 * q(g['latencies'], .99):.1f} ms through the gateway (at concurrency > slots the median also shows how evenly each side queues)")
    pairs = [(db, gb) for db, gb in zip(d.get("blocks", []), g.get("blocks", [])) if db["median"] and gb["median"] and db["wall"] and gb["wall"]]
    if pairs:
        ratios = sorted((gb["requests"] / gb["wall"]) / (db["requests"] / db["wall"]) for db, gb in pairs)
        added_by_round = sorted(1000 * (gb["median"] - db["median"]) for db, gb in pairs)
        print(f"concurrency {conc}, round by round ({len(pairs)} interleaved pairs): throughput ratio median {ratios[len(ratios) // 2]:.3f} "
              f"(range {ratios[0]:.3f}-{ratios[-1]:.3f}), added median latency median {added_by_round[len(added_by_round) // 2]:+.2f} ms "
              f"(range {added_by_round[0]:+.2f} to {added_by_round[-1]:+.2f})")
    if g.get("gateway_measured"):
        n = g["gateway_measured"]
        print(f"concurrency {conc}: the gateway process used {1000 * g['gateway_cpu_s'] / n:.2f} ms of CPU and "
              f"{g['gateway_switches'] / n:.1f} context switches per request")

print("\n(b) adapter switched on every request vs grouped (same requests), through the gateway and directly")
print(header)
for conc in ((1, 8) if b else ()):
    for side in ("same", "alternating", "direct same", "direct alternating"):
        print(row(f"{side}, concurrency {conc}", b[f"{side} c{conc}"]))
        errors(side, b[f"{side} c{conc}"])
for conc in ((1, 8) if b else ()):
    s, al = b[f"same c{conc}"], b[f"alternating c{conc}"]
    ds, dal = b[f"direct same c{conc}"], b[f"direct alternating c{conc}"]
    summary.setdefault(f"c{conc}", {}).update({
        "alternating_median_ratio": med(al) / med(s), "alternating_throughput_ratio": rps(al) / rps(s),
        "direct_alternating_median_ratio": med(dal) / med(ds)})
    print(f"concurrency {conc}: through the gateway alternating/same throughput {rps(al) / rps(s):.3f}, median {med(al) / med(s):.3f}x (goal within 10%); "
          f"llama-server directly: throughput {rps(dal) / rps(ds):.3f}, median {med(dal) / med(ds):.3f}x")

print("\n(c) the audit write's share, concurrency 1 (gateway minus direct, each instance its own baseline)")
print(header)
added = {}
for name, data in (("disk", c_disk), ("tmpfs", c_tmpfs)):
    if not data:
        continue
    for side in ("direct", "gateway"):
        print(row(f"audit on {name}: {side}", data[f"{side} c1"]))
        errors(side, data[f"{side} c1"])
    added[name] = med(data["gateway c1"]) - med(data["direct c1"])
    low = q(data["gateway c1"]["latencies"], .25) - q(data["direct c1"]["latencies"], .25)
    print(f"audit on {name}: the gateway adds {1000 * added[name]:+.2f} ms to the median ({1000 * low:+.2f} ms at p25)")
if len(added) == 2:
    print(f"audit write (disk minus tmpfs): {1000 * (added['disk'] - added['tmpfs']):+.2f} ms of the median (goal < 0.5 ms)")

def audit_writes(name):
    """The gateway's own airlock_audit_write_seconds histogram over part (c): after minus before."""
    def read(which):
        path = os.path.join(work, f"c-{name}-{which}.metrics")
        if not os.path.exists(path):
            return None
        buckets, total, count = {}, 0.0, 0
        for line in open(path):
            if line.startswith("airlock_audit_write_seconds_bucket{le="):
                bound = line.split('"')[1]
                buckets[float("inf") if bound == "+Inf" else float(bound)] = int(line.split()[-1])
            elif line.startswith("airlock_audit_write_seconds_sum "):
                total = float(line.split()[-1])
            elif line.startswith("airlock_audit_write_seconds_count "):
                count = int(line.split()[-1])
        return buckets, total, count
    before, after = read("before"), read("after")
    if not before or not after:
        return
    buckets = {bound: after[0][bound] - before[0].get(bound, 0) for bound in after[0]}
    total, count = after[1] - before[1], after[2] - before[2]
    if count == 0:
        return
    # The median by linear interpolation inside its bucket.
    previous_bound, previous_count, median = 0.0, 0, float("nan")
    for bound in sorted(buckets):
        if buckets[bound] >= count / 2:
            upper = bound if bound != float("inf") else previous_bound
            share = (count / 2 - previous_count) / max(1, buckets[bound] - previous_count)
            median = previous_bound + share * (upper - previous_bound)
            break
        previous_bound, previous_count = bound, buckets[bound]
    within = buckets.get(0.0005, 0) / count
    summary[f"audit_write_median_ms_{name}"] = 1000 * median
    print(f"audit on {name}: the gateway's audit writes ({count}): median {1000 * median:.2f} ms, mean {1000 * total / count:.2f} ms, "
          f"{100 * within:.0f}% within 0.5 ms (airlock_audit_write_seconds)")
for name in ("disk", "tmpfs"):
    audit_writes(name)
floor = os.path.join(work, "c-fdatasync.json")
if os.path.exists(floor):
    f = json.load(open(floor))
    print(f"the disk itself (700-byte append + fdatasync in the audit folder): median {1000 * f['back_to_back']:.2f} ms back to back, "
          f"{1000 * f['after_6ms_idle']:.2f} ms after 6 ms idle (the gap between two writes at concurrency 1)")
    summary["disk_fdatasync_after_idle_ms"] = 1000 * f["after_6ms_idle"]
with open(os.path.join(work, "summary.json"), "w") as out:
    json.dump(summary, out)
PY
echo "audit records written on disk (the tmpfs run's vanished with it): $records" >&2
