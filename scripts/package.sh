#!/usr/bin/env bash
# Builds Airlock for a target host that has no Swift, no compiler and no network: a Debian 12
# package and a signed offline apt repository holding it (for a USB stick or a DVD).
#
#   bash scripts/package.sh [--output DIR] [--version VERSION] [--gnupg-home DIR --key-id ID]
#
#   dist/airlock_VERSION_ARCH.deb    the package (release build, Swift runtime linked statically)
#   dist/airlock-offline-repo/       a flat apt repository: the .deb, Packages, Release signed
#                                    with OpenPGP (InRelease and Release.gpg), the public key
#                                    (airlock-archive-keyring.gpg) and INSTALL
#
# --version defaults to the version compiled in (Sources/AirlockCommands/AirlockVersion.swift;
# "0.1.0-dev" becomes the Debian version "0.1.0~dev", which sorts before 0.1.0). The repository is
# signed with the key --key-id names in --gnupg-home; without them, with this build host's own
# repository key, made on first use in ${XDG_CACHE_HOME:-$HOME/.cache}/airlock/repo-signing/ (fine
# for a rehearsal; a site's releases use its release key, kept offline).
#
# Reproducible: times are SOURCE_DATE_EPOCH (default the commit's time), build paths are mapped
# to '.', owners are root, files sorted, and the program is built without debug information
# (-gnone, -g0: the DWARF of imported Clang modules carries their module-cache signatures, which
# differ from build to build, and so does the .swift_modhash section that hashes it; the package
# strips debug information anyway), and the build runs in a fixed place whatever the checkout's
# path: the checkout's files (tracked and untracked, not ignored) are copied to
# /var/tmp/airlock-package/src and built into /var/tmp/airlock-package/build (AIRLOCK_PACKAGE_ROOT
# moves both; --scratch-path moves the build folder): the compiler writes some source paths into
# the program even with -file-prefix-map (the file named in withoutActuallyEscaping's check, the
# per-module hashes of .swift_modhash). scripts/package.sh --check-reproducible makes two clean
# builds there and compares the .debs byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."
repo_root=$PWD
prog="package"
log() { echo "$prog: $*" >&2; }
die() { log "$*"; exit 1; }

output=dist
version=""
gnupg_home=""
key_id=""
build_root=${AIRLOCK_PACKAGE_ROOT:-/var/tmp/airlock-package}
scratch=$build_root/build
check=0
while (($#)); do
  case $1 in
    --output) output=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --gnupg-home) gnupg_home=$2; shift 2 ;;
    --key-id) key_id=$2; shift 2 ;;
    --scratch-path) scratch=$2; shift 2 ;;
    --check-reproducible) check=1; shift ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

for tool in swift dpkg-deb dpkg-shlibdeps apt-ftparchive gpg strip; do
  command -v "$tool" >/dev/null || die "missing '$tool' (scripts/setup-host.sh installs what this needs)"
done

export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
export TZ=UTC LC_ALL=C.UTF-8

if ((check)); then
  # Two builds from scratch must give the same bytes: each empties the build folder first.
  work=$(mktemp -d /tmp/airlock-repro.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  for run in a b; do
    log "reproducibility: clean build $run (in $scratch, emptied first)"
    rm -rf "$scratch"
    "$0" --output "$work/$run" --scratch-path "$scratch" ${version:+--version "$version"} >/dev/null
  done
  a=$(ls "$work"/a/*.deb) b=$(ls "$work"/b/*.deb)
  if cmp -s "$a" "$b"; then
    log "reproducible: two clean builds gave the same $(basename "$a") ($(stat -c %s "$a") bytes, sha256 $(sha256sum "$a" | cut -c1-16)…)"
    exit 0
  fi
  log "NOT reproducible: $(basename "$a") differs between two clean builds"
  (cd "$work" && mkdir -p xa xb && dpkg-deb -R "$a" xa && dpkg-deb -R "$b" xb && diff -r xa xb | head -20) >&2 || true
  exit 1
fi

# --- the sources, at a fixed path ----------------------------------------------------------
src=$build_root/src
if [[ $repo_root != "$(realpath -m "$src")" ]]; then
  mkdir -p "$build_root"
  exec 9>"$build_root/lock"
  flock -w 3600 9 || die "another package build holds $build_root/lock"
  log "copying the checkout's files to $src (the build's fixed path)"
  rm -rf "$src"
  mkdir -p "$src"
  # Tracked and untracked files, not ignored ones (no .build, no dist); mtimes kept, so the
  # build folder's incremental build still applies.
  git ls-files -z --cached --others --exclude-standard |
    tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$src"
  args=(--output "$(realpath -m "$output")" --scratch-path "$(realpath -m "$scratch")")
  [[ -n $version ]] && args+=(--version "$version")
  [[ -n $gnupg_home ]] && args+=(--gnupg-home "$(realpath -m "$gnupg_home")")
  [[ -n $key_id ]] && args+=(--key-id "$key_id")
  AIRLOCK_PACKAGE_COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown) AIRLOCK_PACKAGE_ROOT=$build_root exec bash "$src/scripts/package.sh" "${args[@]}"
fi

compiled=$(sed -n 's/.*description = "\(.*\)".*/\1/p' Sources/AirlockCommands/AirlockVersion.swift)
[[ -n $compiled ]] || die "no version in Sources/AirlockCommands/AirlockVersion.swift"
version=${version:-${compiled//-/\~}}
[[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "'$version' is not a Debian version"
arch=$(dpkg --print-architecture)

# --- the release build ---------------------------------------------------------------------
log "release build (static Swift runtime) into $scratch"
t0=$SECONDS
mkdir -p "$scratch"
scratch_real=$(realpath "$scratch")
swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product airlock-multicall \
  -Xswiftc -file-prefix-map -Xswiftc "$scratch_real=.build" -Xswiftc -file-prefix-map -Xswiftc "$repo_root=." \
  -Xcc -ffile-prefix-map="$scratch_real=.build" -Xcc -ffile-prefix-map="$repo_root=." -Xswiftc -gnone -Xcc -g0 >&2
binary="$scratch/release/airlock-multicall"
build_seconds=$((SECONDS - t0))

# The man page generator ships with swift-argument-parser (a dependency already checked out).
parser=$(swift package --scratch-path "$scratch" show-dependencies --format json |
  python3 -c 'import json,sys
def walk(d):
    for x in d.get("dependencies", []):
        if x["identity"] == "swift-argument-parser": print(x["path"]); sys.exit()
        walk(x)
walk(json.load(sys.stdin))')
[[ -d $parser ]] || die "swift-argument-parser's checkout not found"
swift build -c release --package-path "$parser" --scratch-path "$scratch/generate-manual" --product generate-manual >&2

# --- the package tree ----------------------------------------------------------------------
stage=$(mktemp -d /tmp/airlock-package.XXXXXX)
trap 'rm -rf "$stage"' EXIT
tree=$stage/airlock
mkdir -p "$tree"/DEBIAN "$tree"/usr/bin "$tree"/usr/lib/airlock/systemd "$tree"/usr/lib/sysusers.d \
  "$tree"/usr/lib/tmpfiles.d "$tree"/usr/share/man/man1 "$tree"/usr/share/bash-completion/completions \
  "$tree"/usr/share/zsh/vendor-completions "$tree"/usr/share/doc/airlock "$tree"/etc/airlock

# One program, four names: each name is a link to it (see Package.swift, airlock-multicall).
install -m 0755 "$binary" "$tree/usr/bin/airlock"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$tree/usr/bin/airlock"
executables=(airlock airlock-pack airlock-serve airlock-audit)
for name in "${executables[@]:1}"; do ln -s airlock "$tree/usr/bin/$name"; done

# The templates Airlock renders units from (the same text is compiled in), the service users, and
# the shared folders' modes for the root file system.
install -m 0644 systemd/*.in "$tree/usr/lib/airlock/systemd/"
install -m 0644 systemd/airlock.sysusers.conf.in "$tree/usr/lib/sysusers.d/airlock.conf"
sed -e 's|@AUDIT_DIRECTORY@|/var/log/airlock|; s|@CLIENTS_FILE@|/etc/airlock/clients.yaml|; s|@GATEWAY_CONFIG@|/etc/airlock/gateway.yaml|' \
  systemd/airlock.tmpfiles.conf.in >"$tree/usr/lib/tmpfiles.d/airlock.conf"
! grep -n '@[A-Z_]*@' "$tree/usr/lib/tmpfiles.d/airlock.conf" || die "systemd/airlock.tmpfiles.conf.in has a placeholder this script does not fill"

# Man pages (one per executable and verb) and completions, from the commands themselves.
links=$stage/bin
mkdir -p "$links"
for name in "${executables[@]}"; do ln -s "$(realpath "$binary")" "$links/$name"; done
mkdir -p "$stage/man"
manual_date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
for name in "${executables[@]}"; do
  "$scratch/generate-manual/release/generate-manual" "$links/$name" --multi-page --date "$manual_date" \
    --output-directory "$stage/man" >&2
  "$links/$name" --generate-completion-script bash >"$tree/usr/share/bash-completion/completions/$name"
  "$links/$name" --generate-completion-script zsh >"$tree/usr/share/zsh/vendor-completions/_$name"
done
rm -f "$stage"/man/*.help.1   # the generic `help` verb
for page in "$stage"/man/*.1; do gzip -9n <"$page" >"$tree/usr/share/man/man1/$(basename "$page").gz"; done

# Default policies (conffiles: an operator's edits survive upgrades); no trust: nothing is
# trusted until the operator says so.
install -m 0644 policies/store.yaml "$tree/etc/airlock/store.yaml"
install -m 0644 policies/audit.yaml "$tree/etc/airlock/audit.yaml"
printf '/etc/airlock/store.yaml\n/etc/airlock/audit.yaml\n' >"$tree/DEBIAN/conffiles"

for doc in README.md Docs/operator-guide.md Docs/compliance-guide.md Docs/bundle-builder-guide.md Docs/bundle-format.md Docs/architecture.md; do
  install -m 0644 "$doc" "$tree/usr/share/doc/airlock/"
done
{
  cat packaging/copyright
  yams=$(dirname "$parser")/Yams
  [[ -f $yams/LICENSE ]] || die "Yams' LICENSE not found beside swift-argument-parser's checkout"
  sed 's/^$/./; s/^/ /' "$yams/LICENSE"
} >"$tree/usr/share/doc/airlock/copyright"
{
  printf 'airlock (%s) bookworm; urgency=medium\n\n  * Built from commit %s.\n\n' "$version" "${AIRLOCK_PACKAGE_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}"
  printf ' -- Airlock release <release@airlock.invalid>  %s\n' "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$tree/usr/share/doc/airlock/changelog.gz"

# Maintainer scripts, with this package's version filled in.
for script in postinst prerm postrm; do
  sed "s|@VERSION@|$version|g" "packaging/$script" >"$tree/DEBIAN/$script"
  chmod 0755 "$tree/DEBIAN/$script"
done

# Depends: what the binary links (dpkg-shlibdeps), and systemd for sysusers, tmpfiles, units.
mkdir -p "$stage/shlibs/debian"
printf 'Source: airlock\n\nPackage: airlock\nArchitecture: any\n' >"$stage/shlibs/debian/control"
shlibs=$(cd "$stage/shlibs" && dpkg-shlibdeps -O -e"$tree/usr/bin/airlock" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[[ -n $shlibs ]] || die "dpkg-shlibdeps found no dependencies"
installed_kib=$(du -sk --apparent-size --exclude=DEBIAN "$tree" | cut -f1)
cat >"$tree/DEBIAN/control" <<EOF
Package: airlock
Version: $version
Architecture: $arch
Maintainer: Airlock release <release@airlock.invalid>
Installed-Size: $installed_kib
Depends: $shlibs, systemd (>= 252)
Section: admin
Priority: optional
Homepage: https://airlock.invalid/
Description: signed offline bundles of fine-tuned language models for air-gapped hosts
 Airlock verifies signed model bundles (weights, LoRA adapters and their inference
 runtime) against a local trust policy, installs them atomically with rollback, serves
 them as hardened systemd services behind an OpenAI-compatible gateway with no network
 egress, and keeps a tamper-evident audit log of every request and every admin action.
 .
 Executables: airlock (operators), airlock-audit (compliance officers), airlock-pack
 (bundle builders) and airlock-serve (the gateway service).
EOF

(cd "$tree" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) >"$tree/DEBIAN/md5sums"
find "$tree" -type d -exec chmod 0755 {} +
find "$tree" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir -p "$output"
deb="$output/airlock_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz -z9 --build "$tree" "$deb" >&2
log "built $deb ($(stat -c %s "$deb") bytes; installed $installed_kib KiB; release build ${build_seconds}s)"

# --- the signed offline repository ---------------------------------------------------------
if [[ -z $gnupg_home ]]; then
  gnupg_home="${XDG_CACHE_HOME:-$HOME/.cache}/airlock/repo-signing"
  if [[ ! -f $gnupg_home/key-id ]]; then
    log "making this build host's repository signing key in $gnupg_home"
    mkdir -p "$gnupg_home" && chmod 0700 "$gnupg_home"
    gpg --homedir "$gnupg_home" --batch --quiet --passphrase '' \
      --quick-generate-key 'Airlock offline repository (build host) <release@airlock.invalid>' ed25519 sign never
    gpg --homedir "$gnupg_home" --batch --with-colons --list-secret-keys | awk -F: '/^fpr/ {print $10; exit}' >"$gnupg_home/key-id"
  fi
  key_id=$(<"$gnupg_home/key-id")
fi
[[ -n $key_id ]] || die "--gnupg-home needs --key-id"

repo="$output/airlock-offline-repo"
rm -rf "$repo"
mkdir -p "$repo"
cp "$deb" "$repo/"
(
  cd "$repo"
  apt-ftparchive packages . >Packages
  gzip -9n -k Packages
  apt-ftparchive -o APT::FTPArchive::Release::Origin=Airlock -o APT::FTPArchive::Release::Label=Airlock \
    -o APT::FTPArchive::Release::Suite=offline -o APT::FTPArchive::Release::Codename=offline \
    -o APT::FTPArchive::Release::Architectures="$arch" release . >Release
)
gpg --homedir "$gnupg_home" --batch --yes --local-user "$key_id" --clearsign -o "$repo/InRelease" "$repo/Release"
gpg --homedir "$gnupg_home" --batch --yes --local-user "$key_id" --detach-sign -o "$repo/Release.gpg" "$repo/Release"
gpg --homedir "$gnupg_home" --batch --export "$key_id" >"$repo/airlock-archive-keyring.gpg"
fingerprint=$(gpg --homedir "$gnupg_home" --batch --with-colons --fingerprint "$key_id" | awk -F: '/^fpr/ {print $10; exit}')
sed -e "s|@VERSION@|$version|g; s|@FINGERPRINT@|$fingerprint|g" packaging/INSTALL.in >"$repo/INSTALL"
log "offline repository: $repo (signed by $fingerprint)"
echo "$deb"
