#!/usr/bin/env bash
# A plain Debian 12 root file system that has never seen Swift, Python or a build tool: what a
# target host is before Airlock arrives. Made once with debootstrap from the mirror this machine's
# own apt sources name, kept as a zstd tarball in the cache, and unpacked into a fresh folder
# for each use (about a second).
#
#   scripts/debian-image.sh unpack DIR   unpack the image into DIR (made on first use)
#   scripts/debian-image.sh path         print the cached tarball's path (made on first use)
#
# The image holds systemd (it boots as PID 1 under systemd-nspawn), apt, man-db, and the Debian
# libraries Airlock's package depends on (so that `apt install airlock` from the offline
# repository needs nothing from a network: a site's base system has them from its own media).
# The mirror's sources are removed from it: apt inside sees only what a test adds.
set -euo pipefail

prog="debian-image"
log() { echo "$prog: $*" >&2; }
die() { log "$*"; exit 1; }

# What the image holds beyond minbase. Changing this list makes a new image.
packages=(systemd systemd-sysv dbus apt man-db curl libssl3 libarchive13 libsystemd0 libgomp1 procps iproute2)
suite=bookworm

cache="${XDG_CACHE_HOME:-$HOME/.cache}/airlock/debian-image"
key=$(printf '%s\n' "$suite" "${packages[@]}" | sha256sum | cut -c1-12)
tarball="$cache/$suite-$key.tar.zst"

mirror() {
  # The first Debian mirror the host's own apt sources name (deb822 or one-line format).
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -v security | head -1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1}')
  [[ -n $uri ]] || die "no Debian mirror in this host's apt sources"
  echo "$uri"
}

make_image() {
  [[ $(id -u) == 0 ]] || die "must run as root (debootstrap)"
  command -v debootstrap >/dev/null || die "missing 'debootstrap' (apt-get install debootstrap; scripts/setup-host.sh does)"
  command -v zstd >/dev/null || die "missing 'zstd'"
  mkdir -p "$cache"
  tree=""
  tree=$(mktemp -d "$cache/tree.XXXXXX")
  trap '[[ -n ${tree:-} ]] && rm -rf "$tree"' EXIT
  local m
  m=$(mirror)
  log "debootstrap $suite from $m (once; about two minutes)"
  local include
  include=$(IFS=,; echo "${packages[*]}")
  debootstrap --variant=minbase --include="$include" "$suite" "$tree" "$m" >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log" >&2; die "debootstrap failed (log: $cache/debootstrap.log)"; }
  rm -f "$tree/etc/apt/sources.list" "$tree"/etc/apt/sources.list.d/*
  rm -rf "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/archives/*.deb
  echo airlock-target >"$tree/etc/hostname"
  # man-db's documentation filter (minbase keeps no man pages of its own, but the package's are wanted).
  rm -f "$tree/etc/dpkg/dpkg.cfg.d/excludes"
  tar -C "$tree" --numeric-owner -cf - . | zstd -q -T0 -o "$tarball.tmp"
  mv "$tarball.tmp" "$tarball"
  log "image: $tarball ($(du -h "$tarball" | cut -f1))"
}

ensure() { [[ -f $tarball ]] || make_image; }

case "${1:-}" in
  path) ensure; echo "$tarball" ;;
  unpack)
    [[ -n ${2:-} ]] || die "usage: $0 unpack DIR"
    ensure
    mkdir -p "$2"
    zstd -q -dc "$tarball" | tar -C "$2" --numeric-owner -xf -
    ;;
  *) sed -n '7,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
