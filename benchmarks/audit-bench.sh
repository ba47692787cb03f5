#!/usr/bin/env bash
# Audit log benchmarks, each against a baseline measured in the same run on the same disk:
#   - durable appends/s, one appender and many at once (group commit), against the disk's own
#     write+fdatasync rate (a 512-byte append and fdatasync in the same folder);
#   - `airlock-audit verify` of RECORDS records (default 1,000,000), whole process, against
#     `openssl dgst -sha256` reading and hashing the same segment files (one core, SHA-NI).
#
#   benchmarks/audit-bench.sh [RECORDS] [APPENDERS]      (defaults 1000000 and 256)
#
# Uses the release build (swift build -c release --product airlock-audit); writes a scratch log
# under ${BENCH_DIR:-/tmp} (about 450 MB for a million records), removed afterwards. Prints the
# machine's state and a table; Docs/benchmarks.md records the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
appenders=${2:-256}
bin=$(swift build -c release --show-bin-path)
[[ -x $bin/airlock-audit ]] || { echo "build first: swift build -c release --product airlock-audit" >&2; exit 1; }
work=$(mktemp -d "${BENCH_DIR:-/tmp}/airlock-audit-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"

echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
  "$(df -h "$work" | awk 'NR==2 {print $1" "$2}') at $work"

# The benchmark verb: fdatasync baseline, one appender, many appenders, then it fills the log to
# $records and times verify in-process.
"$bin/airlock-audit" --root "$root" benchmark --json --single 2000 --concurrent 50000 \
  --appenders "$appenders" --verify-records "$records" >"$work/bench.json"

# The whole `airlock-audit verify` process (start-up, key, snapshot, every segment), page cache
# warm, three runs (best and median: on a shared machine the median shows the load); and the
# baseline over the same files.
best() { # best CMD...: "BEST MEDIAN" wall seconds of three runs
  python3 - "$@" <<'PY'
import subprocess, sys, time
times = []
for _ in range(3):
    start = time.monotonic()
    subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
    times.append(time.monotonic() - start)
times.sort()
print(f"{times[0]:.3f} {times[1]:.3f}")
PY
}
segments=("$root"/var/log/airlock/audit-*.jsonl)
cat "${segments[@]}" >/dev/null
read -r verify_s verify_median <<<"$(best "$bin/airlock-audit" --root "$root" verify)"
read -r hash_s hash_median <<<"$(best bash -c 'cat "$@" | openssl dgst -sha256' _ "${segments[@]}")"
bytes=$(cat "${segments[@]}" | wc -c)

python3 - "$work/bench.json" "$verify_s" "$hash_s" "$bytes" "${#segments[@]}" "$verify_median" "$hash_median" <<'PY'
import json, sys
b = json.load(open(sys.argv[1]))
verify_s, hash_s, size, segments = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
verify_median, hash_median = float(sys.argv[6]), float(sys.argv[7])
n = b["verify_records"]
rows = [
    ("write+fdatasync, 512 B (baseline)", f'{b["fdatasync_median_us"]:.0f} us median', f'{b["fdatasync_per_second"]:.0f} flushes/s', "1.00x"),
    ("durable appends, 1 appender", "", f'{b["single_appends_per_second"]:.0f} records/s', f'{b["single_versus_fdatasync"]:.2f}x fdatasync rate'),
    (f'durable appends, {b["appenders"]} appenders', "", f'{b["concurrent_appends_per_second"]:.0f} records/s',
     f'{b["concurrent_versus_fdatasync"]:.1f}x fdatasync rate, {b["concurrent_versus_single"]:.1f}x 1 appender'),
    (f"openssl dgst -sha256 of the log (baseline)", f"{hash_s:.2f} s (median {hash_median:.2f})", f"{size / hash_s / 1e6:.0f} MB/s", "1.00x"),
    (f"airlock-audit verify, whole process", f"{verify_s:.2f} s (median {verify_median:.2f})", f"{n / verify_s:.0f} records/s",
     f"{verify_s / hash_s:.2f}x the baseline's time"),
    (f"verify in the writing process, right after", f'{b["verify_seconds"]:.2f} s', f'{b["verify_records_per_second"]:.0f} records/s', ""),
]
print(f"log: {n} records, {segments} segments, {size / 1e6:.0f} MB")
width = max(len(r[0]) for r in rows)
for r in rows:
    print(f"{r[0]:<{width}}  {r[1]:>24}  {r[2]:>20}  {r[3]}")
appends = b["concurrent_appends_per_second"]
print(f"goals: >= 20000 durable appends/s -> {'met' if appends >= 20000 else 'NOT met'}; "
      f"verify of 1,000,000 records < 10 s -> {'met' if verify_median * 1_000_000 / n < 10 else 'NOT met'} (median)")
PY
