#!/usr/bin/env bash
# Fuzz smoke for CI: build every cargo-fuzz target in fuzz/, replay each one's saved
# regression inputs, then fuzz it for FUZZ_SECONDS (default 20) starting from its
# committed corpus. Any crash fails the script. Needs a nightly toolchain; without one it
# says so and exits 0. See fuzz/README.md for the long runs.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-20}"
# 16 codegen units build about twice as fast as cargo-fuzz's default of 1, and the
# fuzzing is only a little slower: the right trade for a smoke run. `run` gets the same
# flags, or it would build again.
build=(--codegen-units 16)

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "==> fuzz smoke SKIPPED: no nightly toolchain (cargo-fuzz needs one)."
    echo "    To run it: rustup toolchain install nightly && scripts/ci-fuzz.sh"
    exit 0
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

cd fuzz
echo "==> building the fuzz targets"
cargo +nightly fuzz build "${build[@]}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in $(cargo +nightly fuzz list); do
    if compgen -G "regressions/$target/*" >/dev/null; then
        echo "==> $target: replaying regressions/$target"
        cargo +nightly fuzz run "${build[@]}" "$target" regressions/"$target"/* -- -runs=1 >"$work/log" 2>&1 \
            || { cat "$work/log"; echo "==> $target: a saved regression crashes again" >&2; exit 1; }
    fi
    echo "==> $target: fuzzing for ${seconds}s from corpus/$target"
    # New inputs go to a scratch copy, so the committed corpus stays as it is.
    mkdir -p "$work/$target" "artifacts/$target"
    cargo +nightly fuzz run "${build[@]}" "$target" "$work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -artifact_prefix="artifacts/$target/" \
        -print_final_stats=1 >"$work/log" 2>&1 \
        || { tail -60 "$work/log"; echo "==> $target: crash; the input is in fuzz/artifacts/$target/" >&2; exit 1; }
    grep -E "^stat::number_of_executed_units|^Done" "$work/log" | tr '\n' ' '
    echo
done
echo "==> fuzz smoke passed"
