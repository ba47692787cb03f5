#!/usr/bin/env bash
# Installs what building and testing Airlock needs on a Debian 12 host (run as root):
# the C libraries Airlock links, the tools that build the test runtime, and systemd-nspawn for
# the systemd test container. Idempotent: a warm machine only checks.
set -euo pipefail

packages=(
  libssl-dev libarchive-dev libsystemd-dev pkg-config   # Airlock's C libraries
  cmake ninja-build ccache libgomp1                      # the test runtime (llama-server)
  systemd-container iproute2                             # the systemd test container
  curl jq zstd                                           # the demo and the scripts
  faketime                                               # audit test: a writer whose clock was set back
  time                                                   # scripts/fuzz.sh: CPU time per fuzz target
  debootstrap apt-utils gpg                              # scripts/package.sh and its test: the .deb, the offline repository, a plain Debian image
)

log() { echo "setup-host: $*" >&2; }

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || { log "missing ${missing[*]}: run this as root (apt-get install)"; exit 1; }
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { log "no 'swift' on PATH: Airlock needs Swift 6.2 or newer"; exit 1; }
command -v python3 >/dev/null || { log "no 'python3' on PATH (the demo model generator needs it)"; exit 1; }
python3 -c 'import venv' 2>/dev/null || { log "python3 has no venv module: apt-get install python3-venv"; exit 1; }
log "ok"
