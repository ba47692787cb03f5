#!/usr/bin/env bash
# The Debian package as a site meets it: built by scripts/package.sh, installed with apt from the
# signed offline repository on a plain Debian 12 that has never seen Swift (scripts/debian-image.sh,
# booted with systemd as PID 1, no network), then used there: man pages, ldd, trust, verify,
# install and serve a bundle under systemd, the audit log verified; then an upgrade from an older
# package that keeps the trust policy, the bundle, the clients and the audit chain (its first
# record names both versions); then a .deb and a Release with one flipped byte, both refused by
# apt itself; then remove and purge (state kept while a bundle is installed; the audit log kept
# unless confirmed), each recorded. Exits non-zero, naming the check, on the first failure. Run by scripts/test.sh.
#
#   bash scripts/package-test.sh [--keep]   --keep leaves the container running for a look
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
keep=0
[[ ${1:-} == --keep ]] && keep=1

step() { printf '\n== package-test: %s\n' "$*" >&2; }
fail() { echo "package-test: FAILED: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/airlock-package-test.XXXXXX)
container=airlock-package
cleanup() {
  ((keep)) || scripts/systemd-container.sh stop "$container" >/dev/null 2>&1 || true
  ((keep)) || rm -rf "$work"
}
trap cleanup EXIT

step "two packages: this commit's, and an older version of it to upgrade from"
bash scripts/package.sh --output "$work/new" >/dev/null
bash scripts/package.sh --output "$work/old" --version 0.0.9 >/dev/null
deb=$(ls "$work"/new/*.deb)
new_version=$(dpkg-deb -f "$deb" Version)
echo "$(basename "$deb"): $(stat -c %s "$deb") bytes; Depends: $(dpkg-deb -f "$deb" Depends)" >&2

step "a demo bundle, signed on this build host with the debug build's airlock-pack"
swift build --product airlock-pack >/dev/null
pack="$(swift build --show-bin-path)/airlock-pack"
mkdir -p "$work/input/model" "$work/input/runtime/cpu-generic"
model=$(scripts/demo-model.sh)
cp "$model/base.gguf" "$model/claims.gguf" "$model/legal.gguf" "$work/input/model/"
cp "$(scripts/test-runtime.sh --path)" "$work/input/runtime/cpu-generic/llama-server"
cp bundle/demo/bundle.yaml "$work/input/"
"$pack" keygen --output "$work/release.pem" >/dev/null
"$pack" build "$work/input/bundle.yaml" --key "$work/release.pem" --output "$work/claims-assistant-1.0.0.airlock" >/dev/null

step "a plain Debian 12 (no Swift, no compiler, no network), booted with systemd"
image="$work/image"
scripts/debian-image.sh unpack "$image"
[[ ! -e $image/usr/bin/swift && ! -e $image/usr/bin/cc && ! -e $image/usr/bin/python3 ]] || fail "the image is not plain: it has swift, cc or python3"
scripts/systemd-container.sh stop "$container" >/dev/null 2>&1 || true
AIRLOCK_CONTAINER_IMAGE="$image" AIRLOCK_CONTAINER_BIND_RO="$work" scripts/systemd-container.sh start "$container" >/dev/null
inside() { scripts/systemd-container.sh exec "$container" -- "$@"; }
# (Checks below read whole outputs with `grep -c`: `grep -q` stops at the first match, and under
# pipefail the writer's SIGPIPE would fail the check.)
sh_inside() { inside /bin/sh -ec "$1"; }

use_repository() { # use_repository FOLDER: the only apt source inside is this offline repository
  sh_inside "install -d /etc/apt/keyrings
    install -m 0644 '$1/airlock-archive-keyring.gpg' /etc/apt/keyrings/airlock-archive-keyring.gpg
    echo 'deb [signed-by=/etc/apt/keyrings/airlock-archive-keyring.gpg] file:$1 ./' >/etc/apt/sources.list.d/airlock.list
    apt-get update -qq"
}

step "install 0.0.9 from its offline repository, as INSTALL says"
use_repository "$work/old/airlock-offline-repo"
inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq airlock >/dev/null
[[ $(inside dpkg-query -W -f='${Version}' airlock) == 0.0.9 ]] || fail "0.0.9 is not what dpkg says is installed"

step "every executable links only Debian's libraries; man pages work"
for program in airlock airlock-pack airlock-serve airlock-audit; do
  libraries=$(inside ldd "/usr/bin/$program")
  ! grep -q 'not found' <<<"$libraries" || fail "$program: a library is missing: $libraries"
  while read -r path; do
    # dpkg knows a file by the path its package ships (/lib/... on a merged-/usr system too).
    owner=$(inside dpkg -S "$path" 2>/dev/null || inside dpkg -S "${path#/usr}" 2>/dev/null || inside dpkg -S "/usr$path" 2>/dev/null) ||
      fail "$program links $path, which no Debian package installed"
    [[ $owner != airlock:* ]] || fail "$program links $path from the airlock package itself"
  done < <(awk '/=>/ {print $3} !/=>/ && $1 ~ /^\// {print $1}' <<<"$libraries")
  inside "/usr/bin/$program" --version >/dev/null || fail "$program --version"
done
inside man -P cat airlock-audit 2>/dev/null | grep -c 'airlock-audit' >/dev/null || fail "man airlock-audit shows no page"
inside man -P cat airlock.install 2>/dev/null | grep -c -- '--no-activate' >/dev/null || fail "man airlock.install lacks --no-activate"
inside getent group airlock-serve airlock-weights >/dev/null || fail "the service users' groups were not created"
[[ $(inside stat -c '%a %U:%G' /var/log/airlock) == '3770 root:airlock-serve' ]] || fail "/var/log/airlock is not 3770 root:airlock-serve"

step "trust, verify, install and serve the bundle under systemd"
inside airlock trust add "$work/release.pub.pem" --names 'claims-*'
inside airlock verify "$work/claims-assistant-1.0.0.airlock"
inside airlock install "$work/claims-assistant-1.0.0.airlock"
key=$(inside airlock clients add claims-app --adapters claims)
chat() {
  inside curl -sf --max-time 20 http://127.0.0.1:8080/v1/chat/completions -H "Authorization: Bearer $key" \
    -H 'Content-Type: application/json' \
    -d '{"model":"claims","messages":[{"role":"user","content":"Is water damage covered?"}],"max_tokens":8,"temperature":0}'
}
for _ in $(seq 100); do inside curl -sf --max-time 2 http://127.0.0.1:8080/health >/dev/null 2>&1 && break; sleep 0.2; done
answer=$(chat) || fail "the gateway did not answer a chat request (systemctl status airlock-serve@claims-assistant)"
grep -q '"content"' <<<"$answer" || fail "no answer content: $answer"
for tmpfiles in tmpfiles.d sysusers.d; do
  cmp -s <(inside cat "/usr/lib/$tmpfiles/airlock.conf") <(inside cat "/etc/$tmpfiles/airlock.conf") ||
    fail "/usr/lib/$tmpfiles/airlock.conf (the package's) differs from what airlock install rendered in /etc"
done
inside airlock-audit verify >/dev/null || fail "airlock-audit verify after install"

step "upgrade to $new_version from its repository: state and the audit chain are kept"
use_repository "$work/new/airlock-offline-repo"
inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq airlock >/dev/null
[[ $(inside dpkg-query -W -f='${Version}' airlock) == "$new_version" ]] || fail "the upgrade did not install $new_version"
inside airlock-audit verify || fail "the audit chain does not verify across the upgrade"
inside airlock-audit search --action airlock.package --json | grep -c "upgraded from 0.0.9 to $new_version" >/dev/null ||
  fail "no audit record names the upgrade from 0.0.9 to $new_version"
inside airlock list | grep -c 'claims-assistant' >/dev/null || fail "the installed bundle is gone after the upgrade"
inside airlock trust list | grep -c 'claims-\*' >/dev/null || fail "the trust policy is gone after the upgrade"
inside airlock clients list | grep -c 'claims-app' >/dev/null || fail "the clients are gone after the upgrade"
answer=$(chat) || fail "the gateway stopped answering across the package upgrade"

step "a flipped byte in the .deb or in Release is refused by apt"
tampered="$work/tampered"
cp -r "$work/new/airlock-offline-repo" "$tampered"
deb_name=$(basename "$deb")
size=$(stat -c %s "$tampered/$deb_name")
printf '\x5a' | dd of="$tampered/$deb_name" bs=1 seek=$((size / 2)) conv=notrunc status=none
use_repository "$tampered"
if inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall airlock >"$work/apt-deb.log" 2>&1; then
  fail "apt installed a .deb with a flipped byte"
fi
grep -qiE 'hash sum mismatch|size mismatch' "$work/apt-deb.log" || { cat "$work/apt-deb.log" >&2; fail "apt refused the .deb, but not for its digest"; }
echo "apt on the changed .deb: $(grep -iE 'mismatch' "$work/apt-deb.log" | head -1)" >&2
cp "$work/new/airlock-offline-repo/$deb_name" "$tampered/$deb_name"
sed -i 's/^Origin: Airlock$/Origin: Airlocc/' "$tampered/InRelease"
if inside apt-get update >"$work/apt-release.log" 2>&1 && ! grep -q '^[EW]:' "$work/apt-release.log"; then
  fail "apt accepted an InRelease with a changed byte"
fi
grep -qiE 'signature|not signed|NOSPLIT|BADSIG' "$work/apt-release.log" || { cat "$work/apt-release.log" >&2; fail "apt refused the Release, but not for its signature"; }
echo "apt on the changed Release: $(grep -iE 'signature|BADSIG' "$work/apt-release.log" | head -1)" >&2
inside airlock-audit verify >/dev/null || fail "the audit log after the refused updates"

step "apt remove keeps state; the removal is recorded"
inside env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq airlock >/dev/null
inside test -f /etc/airlock/trust.yaml || fail "apt remove took the trust policy"
inside test -d /var/lib/airlock/claims-assistant || fail "apt remove took the installed bundle"
inside sh -c 'ls /var/log/airlock/audit-*.jsonl >/dev/null' || fail "apt remove took the audit log"
use_repository "$work/new/airlock-offline-repo"
inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq airlock >/dev/null
inside airlock-audit search --action airlock.package --json | grep -c 'removed (state kept)' >/dev/null || fail "the removal left no audit record"
inside airlock-audit verify >/dev/null || fail "the audit chain across remove and reinstall"

step "apt purge: refused to touch state while a bundle is installed; then removes Airlock's files but keeps the audit log"
inside env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq airlock >/dev/null 2>"$work/purge.log" || { cat "$work/purge.log" >&2; fail "apt purge with a bundle installed"; }
inside test -f /etc/airlock/trust.yaml || fail "purge with a bundle installed took the trust policy"
inside test -d /var/lib/airlock/claims-assistant/1.0.0 || fail "purge with a bundle installed took the bundle"
inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq airlock >/dev/null
inside airlock-audit search --action airlock.package --json | grep -c 'purged: nothing: bundles still installed' >/dev/null || fail "the refused purge left no record"
inside airlock remove claims-assistant --force >/dev/null
inside env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq airlock >/dev/null
inside test ! -e /etc/airlock || fail "purge left /etc/airlock"
inside test ! -e /var/lib/airlock/claims-assistant || fail "purge left the store"
inside test ! -e /etc/systemd/system/airlock-audit-seal.timer || fail "purge left the audit timers"
inside sh -c 'ls /var/log/airlock/audit-*.jsonl >/dev/null' || fail "purge without the confirmation took the audit log"
inside test -f /var/lib/airlock/audit-key.pem || fail "purge took the audit key the kept log is verified with"
inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq airlock >/dev/null
inside airlock-audit verify >/dev/null || fail "the kept audit log does not verify after purge and reinstall"
inside airlock-audit search --action airlock.package --json | grep -c 'the audit log and its keys are kept' >/dev/null || fail "the purge left no record"
inside env DEBIAN_FRONTEND=noninteractive AIRLOCK_PURGE_AUDIT_LOG=remove-the-audit-log apt-get purge -y -qq airlock >/dev/null
inside test ! -e /var/log/airlock || fail "purge with AIRLOCK_PURGE_AUDIT_LOG=remove-the-audit-log kept the audit log"
inside test ! -e /var/lib/airlock || fail "the confirmed purge left /var/lib/airlock"

step "passed"
((keep)) && echo "container '$container' kept: scripts/systemd-container.sh exec $container -- bash" >&2
exit 0
