#!/usr/bin/env bash
# Builds the libFuzzer executables of Fuzz/ (AddressSanitizer, libFuzzer coverage) and runs each
# fuzz target for SECONDS (default 600), one after the other:
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      targets: manifest spec tar audit request (default all)
#
# Each target starts from its seed corpus (written by the executable itself, `--write-seeds`,
# from the real writers), the corpus earlier runs grew, and the kept findings under
# Tests/Fuzz/Regressions/TARGET/. Everything else lives under .build-fuzz/ (git-ignored):
#   .build-fuzz/corpus/TARGET/     the growing corpus
#   .build-fuzz/crashes/TARGET/    inputs libFuzzer stopped on (crash, broken check, leak, timeout)
#   .build-fuzz/logs/TARGET.log    libFuzzer's output
# Prints per target the CPU seconds used, executions, executions per second, coverage and corpus
# as libFuzzer last reported them; exits non-zero when any target stopped on an input (the line
# says how to rerun it). FUZZ_SEED=N makes the runs repeatable (scripts/test.sh's smoke run uses
# 1); FUZZ_JOBS is not offered: the machine has two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "fuzz: $*" >&2; }
die() { log "$*"; exit 1; }

seconds="${1:-600}"
[[ "$seconds" =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, not '$seconds'"
shift $(( $# > 0 ? 1 : 0 ))
all=(manifest spec tar audit request)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")
for target in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $target "* ]] || die "unknown target '$target' (known: ${all[*]})"
done

scratch=.build-fuzz
log "building Fuzz/ (swift build --package-path Fuzz --scratch-path $scratch, sanitize=fuzzer,address, lld)"
start=$SECONDS
# Swift and C (libyaml inside Yams, the shims) alike get coverage and AddressSanitizer.
swift build --package-path Fuzz --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld \
  -Xcc -fsanitize=fuzzer-no-link,address 2> >(grep -v "Cannot export local symbol" >&2)
log "built in $(( SECONDS - start )) s"
bin="$scratch/debug"

# A crash in Swift code is libFuzzer's to report (Swift's own backtracer would take the signal).
export SWIFT_BACKTRACE=enable=no
failed=()
printf '%-9s %8s %11s %8s %8s %8s %14s  %s\n' target cpu_s runs exec/s cov ft corpus result
for target in "${targets[@]}"; do
  corpus="$scratch/corpus/$target" crashes="$scratch/crashes/$target" logfile="$scratch/logs/$target.log"
  mkdir -p "$corpus" "$crashes" "$(dirname "$logfile")"
  "$bin/fuzz-$target" --write-seeds "$corpus"
  inputs=("$corpus")
  [[ -d Tests/Fuzz/Regressions/$target ]] && inputs+=("Tests/Fuzz/Regressions/$target")
  options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
    -artifact_prefix="$crashes/")
  # Tar inputs cross the reader's 64 KiB blocks; the other targets keep libFuzzer's default.
  [[ $target == tar ]] && options+=(-max_len=200000)
  [[ -n "${FUZZ_SEED:-}" ]] && options+=(-seed="$FUZZ_SEED")
  status=0
  /usr/bin/time -f '%U %S' -o "$logfile.time" "$bin/fuzz-$target" "${options[@]}" "${inputs[@]}" >"$logfile" 2>&1 || status=$?
  cpu=$(awk 'END { printf "%.0f", $1 + $2 }' "$logfile.time")
  runs=$(awk -F: '/^stat::number_of_executed_units/ { print $NF + 0 }' "$logfile")
  rate=$(awk -F: '/^stat::average_exec_per_sec/ { print $NF + 0 }' "$logfile")
  last=$(grep -E '^#[0-9]+' "$logfile" | grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*/[0-9]*[a-zA-Z]*' | tail -1 || true)
  cov=$(awk '{ print $2 }' <<<"$last") ft=$(awk '{ print $4 }' <<<"$last") corp=$(awk '{ print $6 }' <<<"$last")
  result=ok
  if [[ $status -ne 0 ]]; then
    artifact=$(grep -o "Test unit written to .*" "$logfile" | tail -1 | sed 's/Test unit written to //' || true)
    result="STOPPED (exit $status) on ${artifact:-?}: rerun with $bin/fuzz-$target ${artifact:-INPUT}; see $logfile"
    failed+=("$target")
  fi
  printf '%-9s %8s %11s %8s %8s %8s %14s  %s\n' "$target" "$cpu" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
if [[ ${#failed[@]} -gt 0 ]]; then
  for target in "${failed[@]}"; do
    log "$target: $(grep -m1 -E 'Fatal error|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' "$scratch/logs/$target.log" || echo 'see its log')"
  done
  die "stopped on an input: ${failed[*]} (keep the input under Tests/Fuzz/Regressions/TARGET/ once fixed)"
fi
