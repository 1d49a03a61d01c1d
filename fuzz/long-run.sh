#!/usr/bin/env bash
# The long fuzzing runs recorded in fuzz/README.md: each target in turn (one at a time,
# at low priority, one job) for SECONDS (default 720), growing fuzz/corpus/<target>.
# Logs go to fuzz/logs/<target>.log; a summary line per run to fuzz/logs/summary.tsv.
#   usage: fuzz/long-run.sh [target...]     (default: every target)
set -euo pipefail
cd "$(dirname "$0")"
seconds="${SECONDS_PER_TARGET:-720}"
rm -f logs/*/fuzz-0.log
targets=("$@")
[ ${#targets[@]} -eq 0 ] && mapfile -t targets < <(cargo +nightly fuzz list)
cargo +nightly fuzz build
mkdir -p logs
for target in "${targets[@]}"; do
    mkdir -p "artifacts/$target" "logs/$target"
    started=$(date -u +%FT%TZ)
    rc=0
    # -jobs=1 runs the fuzzer in one worker whose output is logs/<target>/fuzz-0.log.
    (cd "logs/$target" && nice -n 15 ../../target/x86_64-unknown-linux-gnu/release/"$target" \
        -max_total_time="$seconds" -jobs=1 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="../../artifacts/$target/" "../../corpus/$target" \
        > ../"$target".log 2>&1) || rc=$?
    log="logs/$target/fuzz-0.log"
    execs=$(grep -h '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1 || true)
    secs=$(grep -ho 'Done [0-9]* runs in [0-9]* second' "$log" | awk '{print $5}' | tail -1 || true)
    corpus=$(find "corpus/$target" -type f | wc -l)
    crashes=$(find "artifacts/$target" -type f | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$started" "${secs:-?}" "${execs:-?}" \
        "$corpus" "$crashes" "$rc" | tee -a logs/summary.tsv
done
