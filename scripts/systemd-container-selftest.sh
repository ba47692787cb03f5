#!/usr/bin/env bash
# Proves scripts/systemd-container.sh end to end; a CI job can run it as root. Always tears down.
#
#   scripts/systemd-container-selftest.sh [NAME]     (default NAME: airlock-selftest)
#
# 1. boots a container (and a second one at the same time, to prove two can run at once)
# 2. exec passes stdin, stdout and the exit status through; copy installs files
# 3. a Type=notify unit (bash + `systemd-notify --ready`) is `activating` until it notifies,
#    then `active`
# 4. the BPF preflight (IPAccounting counts traffic, IPAddressDeny= enforces)
# 5. a veth pair inside the container, its far end in a network namespace made inside, a TCP
#    listener there on addresses this test created (10.231.0.1/24 <-> 10.231.0.2/24):
#    a connect probe under `systemd-run -p IPAddressDeny=any` fails, the same probe without
#    the property succeeds
# 6. stop, then checks nothing is left: mounts, cgroups, processes, state folder, nspawn runtime files
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
sc="$here/systemd-container.sh"
name="${1:-airlock-selftest}"
name2="$name-2"
state_root="${XDG_CACHE_HOME:-$HOME/.cache}/airlock/nspawn"
peer_ns=airlock-peer
host_addr=10.231.0.1
peer_addr=10.231.0.2
port=8000

t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%6.2f", b - a }'; }
say() { echo "[$(elapsed)s] selftest: $*"; }
fail() { echo "[$(elapsed)s] selftest: FAIL: $*" >&2; exit 1; }
inside() { "$sc" exec "$name" -- "$@"; }

tmp=$(mktemp -d)
finish() {
  local rc=$?
  trap - EXIT INT TERM
  "$sc" stop "$name2" >/dev/null 2>&1 || true
  "$sc" stop "$name" >/dev/null 2>&1 || true
  rm -rf -- "$tmp"
  if ((rc == 0)); then say "PASS (total $(elapsed)s)"; else echo "selftest: FAILED (exit $rc)" >&2; fi
  exit $rc
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v ip >/dev/null || fail "missing 'ip': install the Debian package iproute2"
[[ -x /usr/bin/python3 ]] || fail "missing /usr/bin/python3 (the TCP listener): install the Debian package python3"

links_before=$(ip -o link | wc -l)

# --- 1. boot, and a second container at the same time ----------------------------------------
"$sc" stop "$name2" >/dev/null 2>&1 || true   # leftovers of an earlier, killed run
"$sc" stop "$name" >/dev/null 2>&1 || true
say "starting '$name' and '$name2' at the same time"
"$sc" start "$name2" >"$tmp/leader2" 2>"$tmp/start2.err" &
start2=$!
b0=$(date +%s.%N)
leader=$("$sc" start "$name")
boot=$(awk -v a="$b0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
wait "$start2" || { cat "$tmp/start2.err" >&2; fail "second container did not start"; }
leader2=$(<"$tmp/leader2")
say "'$name' running, leader PID $leader (start took ${boot}s); '$name2' leader PID $leader2"
[[ $leader =~ ^[0-9]+$ && $leader2 =~ ^[0-9]+$ && $leader != "$leader2" ]] || fail "bad leader PIDs '$leader' '$leader2'"
[[ $(inside cat /proc/1/comm) == systemd ]] || fail "PID 1 inside is not systemd"
inside systemctl is-system-running | sed 's/^/    is-system-running: /'
inside systemd-analyze | head -n1 | sed 's/^/    /'

# --- 2. exec / copy ------------------------------------------------------------------------
[[ $(echo through-stdin | inside cat) == through-stdin ]] || fail "stdin/stdout not passed through"
set +e; inside sh -c 'exit 7'; st=$?; set -e
[[ $st == 7 ]] || fail "exit status 7 came back as $st"
echo "only in $name" >"$tmp/marker"
"$sc" copy "$name" "$tmp/marker" /var/lib/airlock-selftest/marker
[[ $(inside cat /var/lib/airlock-selftest/marker) == "only in $name" ]] || fail "copy did not land"
[[ ! -e /var/lib/airlock-selftest/marker ]] || fail "copy leaked onto the host"
if "$sc" exec "$name2" -- test -e /var/lib/airlock-selftest/marker; then fail "copy leaked into '$name2'"; fi
say "exec passes stdin/stdout/exit status (7); copy lands inside only (not on the host, not in '$name2')"
"$sc" stop "$name2" 2>/dev/null
say "stopped '$name2'; '$name' still $(inside systemctl is-system-running)"

# --- 3. Type=notify ------------------------------------------------------------------------
cat >"$tmp/notify" <<'EOF'
#!/bin/bash
# Not ready until it says so: sleeps first, then notifies, then idles.
sleep 2
systemd-notify --ready --status="ready after 2s"
exec sleep infinity
EOF
cat >"$tmp/unit" <<'EOF'
[Unit]
Description=Airlock selftest: a Type=notify service written in bash

[Service]
Type=notify
NotifyAccess=all
ExecStart=/usr/local/bin/airlock-selftest-notify
TimeoutStartSec=20
EOF
"$sc" copy "$name" "$tmp/notify" /usr/local/bin/airlock-selftest-notify 0755
"$sc" copy "$name" "$tmp/unit" /etc/systemd/system/airlock-selftest-notify.service
inside systemctl daemon-reload
inside systemctl start --no-block airlock-selftest-notify.service
sleep 0.5
st=$(inside systemctl is-active airlock-selftest-notify.service || true)
[[ $st == activating ]] || fail "before notifying, the unit is '$st' (want activating)"
say "Type=notify unit is '$st' before it notifies"
for _ in $(seq 1 100); do
  st=$(inside systemctl is-active airlock-selftest-notify.service || true)
  [[ $st == activating ]] || break
  sleep 0.1
done
[[ $st == active ]] || fail "Type=notify unit is '$st' (want active)"
say "Type=notify unit is '$st' after systemd-notify --ready: $(inside systemctl show -p Type -p StatusText -p MainPID airlock-selftest-notify.service | tr '\n' ' ')"

# --- 4. BPF preflight ----------------------------------------------------------------------
"$sc" preflight "$name" 2>&1 | sed 's/^/    /'
[[ ${PIPESTATUS[0]} == 0 ]] || fail "preflight"

# --- 5. egress: veth + netns + listener, deny vs. allow -------------------------------------
inside bash -euc "
  ip link add v0 type veth peer name v1
  ip netns add $peer_ns
  ip link set v1 netns $peer_ns
  ip addr add $host_addr/24 dev v0
  ip link set v0 up
  ip -n $peer_ns addr add $peer_addr/24 dev v1
  ip -n $peer_ns link set lo up
  ip -n $peer_ns link set v1 up
"
inside systemd-run --quiet --unit=airlock-selftest-listener -p NetworkNamespacePath=/run/netns/$peer_ns \
  -p WorkingDirectory=/tmp -- /usr/bin/python3 -m http.server --bind "$peer_addr" "$port"
inside bash -c "for i in \$(seq 1 100); do (echo > /dev/tcp/$peer_addr/$port) 2>/dev/null && exit 0; sleep 0.1; done; exit 1" \
  || fail "listener on $peer_addr:$port did not come up: $(inside journalctl -u airlock-selftest-listener --no-pager -n 20)"
say "veth v0 $host_addr/24 <-> v1 $peer_addr/24 in netns '$peer_ns' inside; listener on $peer_addr:$port"

probe="echo > /dev/tcp/$peer_addr/$port"
set +e
inside systemd-run --wait --quiet -p IPAddressDeny=any -- timeout 3 bash -c "$probe" 2>"$tmp/deny.err"
deny=$?
inside systemd-run --wait --quiet -- timeout 3 bash -c "$probe" 2>"$tmp/allow.err"
allow=$?
set -e
[[ $deny != 0 ]] || fail "the TCP connect under IPAddressDeny=any SUCCEEDED"
[[ $allow == 0 ]] || { cat "$tmp/allow.err" >&2; fail "the same TCP connect without IPAddressDeny= failed (exit $allow)"; }
say "TCP connect to $peer_addr:$port: with -p IPAddressDeny=any exit $deny (blocked; 124 = timed out), without exit $allow (connected)"

# --- 6. stop and look for leftovers --------------------------------------------------------
s0=$(date +%s.%N)
"$sc" stop "$name" 2>/dev/null
stop=$(awk -v a="$s0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
say "stopped '$name' in ${stop}s"
leftovers=()
grep -q "/airlock/nspawn/$name" /proc/mounts && leftovers+=("mounts: $(grep "/airlock/nspawn/$name" /proc/mounts)")
for cg in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
  for n in "$name" "$name2"; do
    [[ -d $cg/airlock-nspawn-$n ]] && leftovers+=("cgroup $cg/airlock-nspawn-$n")
  done
done
live() { # live PID: exists and is no zombie (the host's PID 1 may reap exited processes late)
  local st; st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) && [[ -n $st && $st != Z ]]
}
for p in "$leader" "$leader2"; do
  live "$p" && [[ $(cat "/proc/$p/comm" 2>/dev/null) == systemd ]] && leftovers+=("process $p (systemd)")
done
for p in /proc/[0-9]*; do
  if [[ $(cat "$p/comm" 2>/dev/null) == systemd-nspawn ]] && live "${p#/proc/}" \
     && tr '\0' '\n' <"$p/cmdline" | grep -qx -- "--machine=$name\|--machine=$name2"; then
    leftovers+=("process ${p#/proc/} (systemd-nspawn)")
  fi
done
for n in "$name" "$name2"; do
  [[ -e $state_root/$n ]] && leftovers+=("state folder $state_root/$n")
  [[ -e /run/systemd/nspawn/propagate/$n ]] && leftovers+=("/run/systemd/nspawn/propagate/$n")
done
ip netns list 2>/dev/null | grep -q "$peer_ns" && leftovers+=("host netns $peer_ns")
links_after=$(ip -o link | wc -l)
[[ $links_after == "$links_before" ]] || leftovers+=("host links: $links_before before, $links_after after")
((${#leftovers[@]} == 0)) || fail "left behind: $(printf '\n  %s' "${leftovers[@]}")"
say "nothing left behind (mounts, cgroups, processes, state folders, nspawn runtime files, host links)"
