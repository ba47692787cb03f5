#!/usr/bin/env bash
# What the journald copy costs the audit write, now that each record reaches journald before its
# append returns (the provable end, issue 16): `airlock-audit benchmark` with the copy and with
# --no-journal (the baseline: the file log alone), alternating, in a booted systemd container
# whose journald is real. The container's /var/tmp is its tmpfs overlay, so fdatasync costs
# little there and the figures show the copy's CPU and socket cost at its most visible; on a
# disk the fdatasync dominates (benchmarks/audit-bench.sh measures that).
#
#   benchmarks/audit-journal-bench.sh [PROGRAM] [RUNS]
#
# PROGRAM: an airlock-audit (or the multi-call airlock program; default the release build
# scripts/package.sh leaves, else .build/release/airlock-audit). RUNS: pairs (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
program=${1:-}
runs=${2:-3}
if [[ -z $program ]]; then
  for candidate in /var/tmp/airlock-package/build/release/airlock-multicall .build/release/airlock-audit; do
    [[ -x $candidate ]] && { program=$candidate; break; }
  done
fi
[[ -n $program && -x $program ]] || { echo "no release build: run scripts/package.sh or swift build -c release --product airlock-audit" >&2; exit 1; }
name=airlock-bench-journal
scripts/systemd-container.sh start "$name" >/dev/null
trap 'scripts/systemd-container.sh stop "$name" >/dev/null 2>&1 || true' EXIT
scripts/systemd-container.sh copy "$name" "$program" /usr/local/lib/airlock-bench/airlock-audit 0755
inside() { scripts/systemd-container.sh exec "$name" -- "$@"; }
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); program $program"
printf '%-4s %-10s %12s %14s %16s\n' run copy fdatasync_us "1 appender/s" "64 appenders/s"
for run in $(seq 1 "$runs"); do
  for mode in journal none; do
    flag=()
    [[ $mode == none ]] && flag=(--no-journal)
    json=$(inside /usr/local/lib/airlock-bench/airlock-audit --root "/var/tmp/bench-$run-$mode" benchmark --json \
      --single 2000 --concurrent 20000 --appenders 64 "${flag[@]}")
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("%-4s %-10s %12.1f %14.0f %16.0f" % (sys.argv[2], "journald" if r["journal"] else "none", r["fdatasync_median_us"], r["single_appends_per_second"], r["concurrent_appends_per_second"]))' "$json" "$run"
  done
done
inside journalctl --no-pager -q SYSLOG_IDENTIFIER=airlock-audit -o cat | wc -l | sed 's/^/journal entries received: /'
