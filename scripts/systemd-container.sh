#!/usr/bin/env bash
# Boots, uses and tears down throwaway containers whose PID 1 is a real systemd, for tests that
# need systemctl, systemd-run, Type=notify, IPAddressDeny= and friends on a machine whose own
# PID 1 is not systemd (measured facts: the test-environment notes, "A real systemd for the tests").
#
#   scripts/systemd-container.sh start NAME                  boot; print the leader PID alone on stdout
#   scripts/systemd-container.sh exec NAME -- CMD [ARGS...]  run CMD inside (stdin/stdout/stderr and
#                                                            the exit status pass through)
#   scripts/systemd-container.sh copy NAME SRC DEST [MODE]   install a host file inside (MODE default
#                                                            0644; parent folders are created)
#   scripts/systemd-container.sh stop NAME                   power off and remove every leftover
#                                                            (idempotent; fine if already gone)
#   scripts/systemd-container.sh cleanup                     stop every container this script started
#                                                            on this machine, also ones left by killed
#                                                            runs (for the start of a test run)
#   scripts/systemd-container.sh preflight NAME              prove the BPF firewall works inside
#
# NAME: [a-z0-9-]+ (at most 40 characters). Several containers with different NAMEs may run at once.
#
# The image is the host's own root file system: `/` is bind-mounted (not recursively, read-only)
# onto a folder and booted with `systemd-nspawn --volatile=overlay`, so the host's files are the
# read-only lower layer and every write inside lands in a tmpfs overlay that vanishes at poweroff.
# Nothing is downloaded, and whatever is built on the host (toolchain output, test binaries) is
# visible inside at the same path. (Files changed on the host after the boot showed up inside too,
# but overlayfs does not promise that for a lower layer: bind what must be exact.) The container
# has its own /tmp, /run and network (only `lo`; --private-network). To share host folders:
#   AIRLOCK_CONTAINER_BIND_RO=/a:/b   colon-separated host paths, bound read-only at the same path
#   AIRLOCK_CONTAINER_BIND=/c         the same, read-write
#   AIRLOCK_CONTAINER_MASK="x.service y.timer"   extra units to mask on boot
#   AIRLOCK_CONTAINER_BOOT_TIMEOUT=60 seconds to wait for `systemctl is-system-running`
#   AIRLOCK_CONTAINER_IMAGE=/dir      boot this root file system instead of the host's (read-only
#                                     lower layer, as /; e.g. a plain Debian from debian-image.sh)
#
# State ("the cache" of a container): ${XDG_CACHE_HOME:-$HOME/.cache}/airlock/nspawn/NAME/
#   root/        the mount point of the read-only bind of /
#   nspawn.pid   PID of systemd-nspawn        leader.pid  PID of the container's systemd (host view)
#   nspawn.log   nspawn's output (the container's console)
# Outside it: one cgroup per container, airlock-nspawn-NAME, in the host's systemd-relevant cgroup
# hierarchies (hybrid layout: /sys/fs/cgroup/unified and /sys/fs/cgroup/systemd; pure cgroup v2:
# /sys/fs/cgroup), and /run/systemd/nspawn/propagate/NAME made by nspawn. `stop` removes all of it
# (and nspawn's shared /run/systemd/nspawn once no nspawn runs). /run/lock/airlock-nspawn.lock is
# the one file that stays: a lock that keeps concurrent start/stop calls from racing.
#
# Why the flags: --register=no/--keep-unit because the host has no systemd/machined;
# --system-call-filter=bpf because nspawn's default seccomp filter blocks bpf() and systemd then
# silently ignores IPAddressDeny=; `machinectl`/`systemctl -M` do not work here, so commands run
# through `nsenter -t LEADER -a`. Needs root, and the Debian packages systemd-container,
# util-linux and mount.
set -euo pipefail

prog="systemd-container"
state_root="${XDG_CACHE_HOME:-$HOME/.cache}/airlock/nspawn"
cg_prefix="airlock-nspawn-"
boot_timeout="${AIRLOCK_CONTAINER_BOOT_TIMEOUT:-60}"
# Serialises the launch of nspawn against the removal of nspawn's shared runtime folders.
global_lock=/run/lock/airlock-nspawn.lock

# Host units that slow the boot down or make no sense in a throwaway test container.
masked_units=(
  postgresql.service postgresql@.service          # the host's database server (generator + sysv)
  e2scrub_reap.service e2scrub_all.timer           # ext4 maintenance of the host's disks
  apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer man-db.timer fstrim.timer
  systemd-tmpfiles-clean.timer                     # timers that would fire during long tests
  getty.target getty-static.service getty@tty1.service console-getty.service
  systemd-timesyncd.service                        # no network to sync over (--private-network)
  systemd-pstore.service                           # host-only: kernel crash records
  machines.target var-lib-machines.mount remote-fs.target   # the host's machine images, NFS
)
# Not masked on purpose: systemd-logind (masking it breaks its D-Bus alias, and with it
# `systemctl poweroff`), dbus, journald, tmpfiles, sysusers: all cheap and things tests rely on.

log() { echo "$prog: $*" >&2; }
die() { log "$*"; exit 1; }

usage() {
  sed -n '6,19p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

need() { # need TOOL DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 || die "missing '$1': install the Debian package '$2' (apt-get install $2)"
}

check_tools() {
  need systemd-nspawn systemd-container
  need nsenter util-linux
  need setsid util-linux
  need mountpoint util-linux
  need flock util-linux
  need mount mount
  need umount mount
  need timeout coreutils
  need install coreutils
  [[ $(id -u) == 0 ]] || die "must run as root (mounts, cgroups, namespaces)"
}

validate_name() {
  [[ "${1:-}" =~ ^[a-z0-9-]+$ && ${#1} -le 40 ]] || die "invalid container name '${1:-}' (want [a-z0-9-]+, at most 40 characters)"
}

# The cgroup hierarchies in which systemd-nspawn looks up (and needs) its own cgroup.
cgroup_roots() {
  local fstype
  fstype=$(stat -fc %T /sys/fs/cgroup)
  if [[ $fstype == cgroup2fs ]]; then
    echo /sys/fs/cgroup                            # pure cgroup v2
    return
  fi
  local found=0
  if [[ -d /sys/fs/cgroup/unified && $(stat -fc %T /sys/fs/cgroup/unified) == cgroup2fs ]]; then
    echo /sys/fs/cgroup/unified; found=1           # hybrid: systemd's own hierarchy is v2 here
  fi
  if [[ -d /sys/fs/cgroup/systemd && $(stat -fc %T /sys/fs/cgroup/systemd) == cgroupfs ]]; then
    echo /sys/fs/cgroup/systemd                    # hybrid/legacy: the name=systemd v1 hierarchy
  fi
  if [[ $found == 0 ]]; then
    die "no cgroup v2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified: systemd's BPF firewall needs one"
  fi
}

# --- finding a container's processes --------------------------------------------------------

# PIDs of systemd-nspawn processes that run the container NAME (whatever their state folder).
nspawn_pids_of() {
  local name=$1 p cmd
  for p in /proc/[0-9]*; do
    [[ $(cat "$p/comm" 2>/dev/null) == systemd-nspawn ]] || continue
    cmd=$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null) || continue
    if grep -qx -- "--machine=$name" <<<"$cmd" && is_alive "${p#/proc/}"; then echo "${p#/proc/}"; fi
  done
}

# is_alive PID: running, not a zombie. (Exited nspawns are re-parented to the host's PID 1,
# which may take a while to reap them; their PIDs linger as zombies meanwhile.)
is_alive() {
  local state
  state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n $state && $state != Z && $state != X ]]
}

any_nspawn_running() {
  local p
  for p in /proc/[0-9]*; do
    [[ $(cat "$p/comm" 2>/dev/null) == systemd-nspawn ]] && is_alive "${p#/proc/}" && return 0
  done
  return 1
}

# The container's PID 1 as seen from the host, if it is running systemd now.
leader_of() {
  local name=$1 dir=$state_root/$1 leader nspawn
  [[ -f $dir/leader.pid && -f $dir/nspawn.pid ]] || return 1
  leader=$(<"$dir/leader.pid"); nspawn=$(<"$dir/nspawn.pid")
  [[ $leader =~ ^[0-9]+$ && $nspawn =~ ^[0-9]+$ ]] || return 1
  is_leader "$leader" "$nspawn" || return 1
  echo "$leader"
}

# is_leader PID NSPAWN_PID: PID is a child of that nspawn, PID 1 of its own PID namespace, and systemd.
is_leader() {
  local pid=$1 nspawn=$2 ppid nspid
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == systemd ]] && is_alive "$pid" || return 1
  ppid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || return 1
  [[ $ppid == "$nspawn" ]] || return 1
  nspid=$(awk '/^NSpid:/ {print $NF}' "/proc/$pid/status" 2>/dev/null) || return 1
  [[ $nspid == 1 ]]
}

running_leader() {
  leader_of "$1" || die "container '$1' is not running (start it with: $0 start $1)"
}

in_container() { # in_container LEADER CMD... (stdin/stdout/stderr and exit status pass through)
  local leader=$1; shift
  nsenter -t "$leader" -a -r -w -- "$@"
}

# --- start ---------------------------------------------------------------------------------

diagnose() { # diagnose NAME: what went wrong, on stderr
  local name=$1 dir=$state_root/$1 leader
  if leader=$(leader_of "$name"); then
    log "--- systemctl --failed (inside $name)"
    timeout 10 nsenter -t "$leader" -a -r -w -- systemctl --no-pager --failed >&2 2>&1 || true
    log "--- journal tail (inside $name)"
    timeout 10 nsenter -t "$leader" -a -r -w -- journalctl -b --no-pager -n 40 >&2 2>&1 || true
  fi
  if [[ -f $dir/nspawn.log ]]; then
    log "--- tail of $dir/nspawn.log"
    tail -n 40 "$dir/nspawn.log" >&2 || true
  fi
}

start_failed() { # start_failed NAME: explain, remove every trace, exit 1
  exec 9>&-
  diagnose "$1"
  teardown "$1" "$state_root/$1" quiet || true
  exit 1
}

cmd_start() {
  local name=$1 dir=$state_root/$1
  check_tools
  if leader_of "$name" >/dev/null; then
    die "container '$name' is already running (leader $(leader_of "$name")); stop it first"
  fi
  # Leftovers from a killed or failed run under the same name.
  teardown "$name" "$dir" quiet

  local args=(
    -q -D "$dir/root" --volatile=overlay --machine="$name" -b
    --register=no --keep-unit --private-network
    --system-call-filter=bpf --capability=CAP_BPF
    --link-journal=no --console=read-only
  )
  local p binds=()
  if [[ -n ${AIRLOCK_CONTAINER_BIND_RO:-} ]]; then
    IFS=: read -ra binds <<<"$AIRLOCK_CONTAINER_BIND_RO"
    for p in "${binds[@]}"; do
      [[ -z $p ]] && continue
      [[ $p == /* && -e $p ]] || die "AIRLOCK_CONTAINER_BIND_RO: '$p' is not an absolute path that exists"
      args+=(--bind-ro="$p")
    done
  fi
  if [[ -n ${AIRLOCK_CONTAINER_BIND:-} ]]; then
    IFS=: read -ra binds <<<"$AIRLOCK_CONTAINER_BIND"
    for p in "${binds[@]}"; do
      [[ -z $p ]] && continue
      [[ $p == /* && -e $p ]] || die "AIRLOCK_CONTAINER_BIND: '$p' is not an absolute path that exists"
      args+=(--bind="$p")
    done
  fi
  local unit kernel_args=()
  for unit in "${masked_units[@]}" ${AIRLOCK_CONTAINER_MASK:-}; do kernel_args+=("systemd.mask=$unit"); done

  local t0=$SECONDS
  mkdir -p "$dir/root"
  # Not recursive: the container sees only the root file system, none of the host's other mounts.
  # Read-only, so nothing (not even a stray `rm -rf` on the state folder) can write through it.
  local image=${AIRLOCK_CONTAINER_IMAGE:-/}
  [[ -d $image/usr/lib/systemd ]] || die "AIRLOCK_CONTAINER_IMAGE: '$image' holds no systemd"
  mount --bind "$image" "$dir/root"
  mount --make-private "$dir/root"
  mount -o remount,bind,ro "$dir/root"

  local cg roots=()
  mapfile -t roots < <(cgroup_roots)
  for cg in "${roots[@]}"; do mkdir -p "$cg/$cg_prefix$name"; done

  mkdir -p "${global_lock%/*}"
  exec 9>"$global_lock"
  flock -w 60 9 || die "could not take $global_lock"
  # The launcher moves itself into the container's own cgroups, then becomes nspawn (setsid
  # does not fork here: a background job of a non-interactive shell is no process group leader).
  (
    for cg in "${roots[@]}"; do echo "$BASHPID" >"$cg/$cg_prefix$name/cgroup.procs"; done
    exec 9>&-
    exec setsid systemd-nspawn "${args[@]}" -- "${kernel_args[@]}"
  ) </dev/null >"$dir/nspawn.log" 2>&1 &
  local nspawn=$!
  echo "$nspawn" >"$dir/nspawn.pid"

  # Wait for the leader (the container's systemd), then for the boot to finish.
  local deadline=$((SECONDS + boot_timeout)) leader="" child state=""
  while [[ -z $leader ]]; do
    if ! is_alive "$nspawn"; then
      log "systemd-nspawn exited before the container came up"
      start_failed "$name"
    fi
    # shellcheck disable=SC2013 # the file holds PIDs separated by spaces
    for child in $(cat /proc/"$nspawn"/task/*/children 2>/dev/null); do
      if is_leader "$child" "$nspawn"; then leader=$child; fi
    done
    if [[ -z $leader ]]; then
      ((SECONDS < deadline)) || { log "no systemd leader after ${boot_timeout}s"; start_failed "$name"; }
      sleep 0.05
    fi
  done
  echo "$leader" >"$dir/leader.pid"
  exec 9>&-   # nspawn has made its runtime folders by now

  while :; do
    state=$(timeout 5 nsenter -t "$leader" -a -r -w -- systemctl is-system-running 2>/dev/null || true)
    case $state in
      running) break ;;
      degraded)
        log "container '$name' booted degraded; failed units:"
        timeout 10 nsenter -t "$leader" -a -r -w -- systemctl --no-pager --failed --plain --no-legend >&2 2>&1 || true
        break ;;
      maintenance|stopping)
        log "container '$name' is '$state' instead of booting"
        start_failed "$name" ;;
      # 'offline': systemctl cannot reach the manager yet (its bus socket comes a moment after
      # the leader appears; on a loaded machine that moment grows): wait, up to the deadline.
    esac
    if ! is_alive "$nspawn"; then
      log "systemd-nspawn exited during boot"
      start_failed "$name"
    fi
    if ((SECONDS >= deadline)); then
      log "container '$name' not running after ${boot_timeout}s (last state: '${state:-unreachable}')"
      start_failed "$name"
    fi
    sleep 0.1
  done
  log "container '$name' is $state (leader $leader, ~$((SECONDS - t0))s)"
  echo "$leader"
}

# --- stop / cleanup --------------------------------------------------------------------------

wait_gone() { # wait_gone SECONDS PID...: true when all are gone (zombies count as gone)
  local limit=$1 p alive; shift
  local deadline=$((SECONDS + limit))
  while :; do
    alive=0
    for p in "$@"; do is_alive "$p" && alive=1; done
    [[ $alive == 0 ]] && return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Kills whatever is left in a cgroup subtree and removes it, deepest first.
remove_cgroup() {
  local cg=$1 d p
  [[ -d $cg ]] || return 0
  for _ in $(seq 1 50); do
    if [[ -f $cg/cgroup.kill ]]; then
      echo 1 >"$cg/cgroup.kill" 2>/dev/null || true
    else
      while IFS= read -r d; do
        while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$d/cgroup.procs" 2>/dev/null || true
      done < <(find "$cg" -type d)
    fi
    if find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || [[ ! -d $cg ]]; then
      [[ -d $cg ]] || return 0
    fi
    sleep 0.1
  done
  log "could not remove cgroup $cg"
  return 1
}

# teardown NAME STATE_DIR [quiet]: power off and remove every trace; fine if nothing is there.
teardown() {
  local name=$1 dir=$2 quiet=${3:-} rc=0 leader="" p child nspawns=()
  mapfile -t nspawns < <(nspawn_pids_of "$name")
  if [[ -f $dir/leader.pid && -f $dir/nspawn.pid ]]; then
    leader=$(<"$dir/leader.pid"); p=$(<"$dir/nspawn.pid")
    is_leader "$leader" "$p" 2>/dev/null || leader=""
  fi
  if [[ -z $leader ]]; then
    for p in "${nspawns[@]}"; do
      # shellcheck disable=SC2013 # the file holds PIDs separated by spaces
      for child in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
        is_leader "$child" "$p" && leader=$child
      done
    done
  fi
  if [[ -n $leader ]]; then
    [[ $quiet ]] || log "powering off '$name' (leader $leader)"
    timeout 10 nsenter -t "$leader" -a -r -w -- systemctl poweroff --no-block >/dev/null 2>&1 \
      || kill -s SIGRTMIN+4 "$leader" 2>/dev/null || true
  fi
  if ((${#nspawns[@]})); then
    if ! wait_gone 30 "${nspawns[@]}"; then
      log "'$name' did not power off in 30s; terminating systemd-nspawn"
      kill -TERM "${nspawns[@]}" 2>/dev/null || true
      wait_gone 5 "${nspawns[@]}" || true
    fi
  fi
  # Kill what is left (a half-started or killed run), then remove the cgroups.
  local cg roots=()
  mapfile -t roots < <(cgroup_roots)
  for cg in "${roots[@]}"; do remove_cgroup "$cg/$cg_prefix$name" || rc=1; done
  if ((${#nspawns[@]})); then
    kill -KILL "${nspawns[@]}" 2>/dev/null || true
    wait_gone 5 "${nspawns[@]}" || { log "systemd-nspawn of '$name' does not die"; rc=1; }
  fi
  # nspawn's runtime files on the host: its own (propagate/NAME), then, when no nspawn is left
  # at all, the shared ones (locks/, empty folders). Under the global lock, so that a `start`
  # running at the same time cannot lose a folder it has just made.
  local sub
  for sub in /run/systemd/nspawn/*/; do
    [[ -e $sub$name ]] || continue
    while mountpoint -q "$sub$name"; do umount -l "$sub$name" || break; done
    rm -rf --one-file-system -- "${sub:?}$name"
  done
  mkdir -p "${global_lock%/*}"
  (
    flock -w 30 9 || exit 0
    if [[ -d /run/systemd/nspawn ]] && ! any_nspawn_running; then
      rm -f /run/systemd/nspawn/locks/inode-*
      rmdir /run/systemd/nspawn/* /run/systemd/nspawn 2>/dev/null || true
    fi
  ) 9>"$global_lock"
  # The bind mount of / (several if starts were stacked).
  local tries=0
  while mountpoint -q "$dir/root" 2>/dev/null; do
    umount "$dir/root" 2>/dev/null || umount -l "$dir/root" || true
    tries=$((tries + 1))
    ((tries < 20)) || { log "cannot unmount $dir/root"; return 1; }
  done
  # Never `rm -rf` here: root/ may be a mount of the host's /. Remove known files, then
  # rmdir (which refuses a mount point or a non-empty folder).
  if [[ -d $dir ]]; then
    # .#root.lck: nspawn's image lock, left behind when nspawn itself was killed.
    rm -f -- "$dir/nspawn.pid" "$dir/leader.pid" "$dir/nspawn.log" "$dir/.#root.lck"
    if [[ -d $dir/root ]]; then rmdir -- "$dir/root" || { log "cannot remove $dir/root"; rc=1; }; fi
    rmdir -- "$dir" 2>/dev/null || { log "left $dir (not empty)"; rc=1; }
  fi
  return $rc
}

cmd_stop() {
  local name=$1 t0=$SECONDS
  check_tools
  teardown "$name" "$state_root/$name"
  log "container '$name' stopped and removed (~$((SECONDS - t0))s)"
}

cmd_cleanup() {
  check_tools
  # name<TAB>state folder, from every trace a container of this script can leave.
  local entries=() name dir p cmd cg m
  if [[ -d $state_root ]]; then
    for dir in "$state_root"/*/; do
      [[ -d $dir ]] || continue
      dir=${dir%/}; entries+=("${dir##*/}"$'\t'"$dir")
    done
  fi
  # Bind mounts of / by this script (also under another XDG_CACHE_HOME).
  while read -r _ m _; do
    m=$(printf '%b' "$m")
    if [[ $m =~ /airlock/nspawn/([a-z0-9-]+)/root$ ]]; then
      entries+=("${BASH_REMATCH[1]}"$'\t'"${m%/root}")
    fi
  done </proc/mounts
  # Running nspawns of this script.
  for p in /proc/[0-9]*; do
    [[ $(cat "$p/comm" 2>/dev/null) == systemd-nspawn ]] || continue
    cmd=$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null) || continue
    dir=$(sed -n 's|^\(.*/airlock/nspawn/[a-z0-9-]*\)/root$|\1|p' <<<"$cmd" | head -n1)
    name=$(sed -n 's|^--machine=||p' <<<"$cmd" | head -n1)
    [[ -n $dir && -n $name ]] && entries+=("$name"$'\t'"$dir")
  done
  # Cgroups of this script.
  while read -r cg; do
    for dir in "$cg/$cg_prefix"*/; do
      [[ -d $dir ]] || continue
      dir=${dir%/}; name=${dir##*/"$cg_prefix"}
      [[ $name =~ ^[a-z0-9-]+$ ]] && entries+=("$name"$'\t'"$state_root/$name")
    done
  done < <(cgroup_roots)

  local rc=0 n=0
  while IFS=$'\t' read -r name dir; do
    [[ -n $name ]] || continue
    log "cleaning up '$name' ($dir)"
    teardown "$name" "$dir" || rc=1
    n=$((n + 1))
  done < <(printf '%s\n' "${entries[@]}" | sort -u)
  log "cleanup: $n container(s) removed"
  return $rc
}

# --- exec / copy / preflight -----------------------------------------------------------------

cmd_exec() {
  local name=$1; shift
  [[ ${1:-} == -- ]] && shift
  (($#)) || die "usage: $0 exec NAME -- CMD [ARGS...]"
  local leader
  leader=$(running_leader "$name")
  exec nsenter -t "$leader" -a -r -w -- "$@"
}

cmd_copy() {
  local name=$1 src=$2 dest=$3 mode=${4:-0644}
  [[ -f $src ]] || die "copy: '$src' is not a file"
  [[ $dest == /* ]] || die "copy: DEST must be an absolute path inside the container"
  [[ $mode =~ ^[0-7]{3,4}$ ]] || die "copy: MODE must be octal (e.g. 0755)"
  local leader
  leader=$(running_leader "$name")
  in_container "$leader" install -D -m "$mode" /dev/stdin "$dest" <"$src"
}

cmd_preflight() {
  local name=$1 leader out received sent
  leader=$(running_leader "$name")
  # 1. IP accounting: a TCP connect to a closed loopback port (SYN out, RST back) must be counted.
  out=$(in_container "$leader" systemd-run --wait -p IPAccounting=yes -- \
    bash -c 'timeout 3 bash -c "echo > /dev/tcp/127.0.0.1/9" 2>/dev/null; true' 2>&1) || {
    log "preflight: systemd-run failed inside '$name':"; echo "$out" >&2; exit 1; }
  received=$(sed -n 's/.*IP traffic received: *\([0-9][0-9.]*\).*/\1/p' <<<"$out")
  sent=$(sed -n 's/.*IP traffic sent: *\([0-9][0-9.]*\).*/\1/p' <<<"$out")
  if [[ -z $received || -z $sent || $received == 0 || $sent == 0 ]]; then
    log "preflight FAILED: IPAccounting=yes reported no IP traffic, so systemd's BPF firewall does not"
    log "work in '$name' and IPAddressDeny= would be silently ignored (is bpf() allowed? nspawn needs"
    log "--system-call-filter=bpf; a cgroup v2 hierarchy is needed too). systemd-run said:"
    echo "$out" >&2
    exit 1
  fi
  # 2. Enforcement: with IPAddressDeny=any a UDP send to loopback fails at once; without, it works.
  local probe='echo x > /dev/udp/127.0.0.1/9'
  if in_container "$leader" systemd-run --wait --quiet -p IPAddressDeny=any -- bash -c "$probe" >/dev/null 2>&1; then
    die "preflight FAILED: a UDP send succeeded under IPAddressDeny=any in '$name'"
  fi
  in_container "$leader" systemd-run --wait --quiet -- bash -c "$probe" >/dev/null 2>&1 \
    || die "preflight FAILED: the control UDP send (no IPAddressDeny=) failed in '$name'"
  log "preflight OK in '$name': IP accounting counted traffic (received ${received}B, sent ${sent}B);" \
    "IPAddressDeny=any blocked a loopback UDP send that works without it"
}

# --- main ------------------------------------------------------------------------------------

(($#)) || usage
cmd=$1; shift
case $cmd in
  start|stop|preflight)
    (($# == 1)) || usage
    validate_name "$1"
    "cmd_$cmd" "$1" ;;
  exec)
    (($# >= 1)) || usage
    validate_name "$1"
    cmd_exec "$@" ;;
  copy)
    (($# == 3 || $# == 4)) || usage
    validate_name "$1"
    cmd_copy "$@" ;;
  cleanup)
    (($# == 0)) || usage
    cmd_cleanup ;;
  -h|--help|help) usage ;;
  *) usage ;;
esac
