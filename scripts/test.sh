#!/usr/bin/env bash
# Runs Airlock's whole test suite on real parts: builds (or reuses) the test llama-server and
# the demo model, clears leftovers of killed container runs, builds with warnings as errors,
# and runs every test. Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-host.sh
echo "== test runtime" >&2
scripts/test-runtime.sh >/dev/null
echo "== demo model" >&2
scripts/demo-model.sh >/dev/null
echo "== vLLM: the CPU lock's wheels (the runtime folder is made by airlock-pack in the tests) and the tiny HF model" >&2
scripts/vllm-runtime.sh --wheels >/dev/null
scripts/hf-model.sh >/dev/null
echo "== openai client (pinned venv for OpenAIClientTests)" >&2
scripts/openai-client.sh >/dev/null
echo "== systemd containers left by earlier runs" >&2
scripts/systemd-container.sh cleanup
echo "== build" >&2
swift build --build-tests
echo "== test" >&2
# The slow tests (a 9 GiB bundle, a 9 GiB archive) run here; AIRLOCK_SLOW_TESTS=0 skips them.
export AIRLOCK_SLOW_TESTS="${AIRLOCK_SLOW_TESTS:-1}"
if [ "$#" -gt 0 ]; then
    swift test --skip-build --disable-xctest "$@"
    exit
fi
# Tests that measure waiting under an attack (a flood of wrong secrets must leave a new client's
# first request under a second) run alone after the rest: beside the 9 GiB archive tests on two
# cores they would measure the suite, not the back-off.
alone='ClientRegistryBackoffTests'
swift test --skip-build --disable-xctest --skip "$alone"
echo "== tests that run alone: $alone" >&2
swift test --skip-build --disable-xctest --filter "$alone"
# The Debian package: a release build, the signed offline repository, and apt installing,
# upgrading and refusing it on a plain Debian 12 booted with systemd (scripts/package-test.sh);
# AIRLOCK_PACKAGE_TEST=0 skips it. Then reproducibility: two clean release builds of this
# checkout must give byte-identical .debs (scripts/package.sh --check-reproducible, about 7
# minutes on two cores); AIRLOCK_REPRODUCIBLE_CHECK=0 skips it.
if [ "${AIRLOCK_PACKAGE_TEST:-1}" != 0 ]; then
    echo "== package: build, install from the offline repository on a plain Debian 12, upgrade, tamper" >&2
    bash scripts/package-test.sh
fi
if [ "${AIRLOCK_REPRODUCIBLE_CHECK:-1}" != 0 ]; then
    echo "== package: two clean builds give the same .deb" >&2
    bash scripts/package.sh --check-reproducible
fi
# The fuzz targets build (a package of their own, sanitizers on) and run briefly, repeatably;
# longer runs: scripts/fuzz.sh SECONDS (Docs/testing.md). AIRLOCK_FUZZ_SECONDS=0 skips this.
fuzz_seconds="${AIRLOCK_FUZZ_SECONDS:-20}"
if [ "$fuzz_seconds" -gt 0 ]; then
    echo "== fuzz smoke: each fuzz target for $fuzz_seconds s" >&2
    FUZZ_SEED="${FUZZ_SEED:-1}" scripts/fuzz.sh "$fuzz_seconds"
fi
