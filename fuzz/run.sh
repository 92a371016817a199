#!/usr/bin/env bash
# Runs every fuzz target (built in BUILD, default build-fuzz) for SECONDS seconds each, FUZZ_JOBS at
# a time, and prints the executions each reached. Corpora grow in BUILD/corpus/<target> (seeded from
# BUILD/seeds/<target>); a crash leaves its input in BUILD/findings/<target>/ and fails the run.
# Usage: fuzz/run.sh SECONDS [TARGET...]
# FUZZ_SEED and FUZZ_RUNS, when set, fix libFuzzer's seed and cap its executions: with the seed corpus
# alone (a fresh BUILD) the run is then the same sequence of inputs every time, as CI needs.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-fuzz}
SECONDS_PER_TARGET=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then
  TARGETS=(npy safetensors idx tokenizer decoder_config hf_checkpoint wordpiece bert_config config_toml)
fi
JOBS=${FUZZ_JOBS:-$(nproc)}
# Leaks count as findings (libFuzzer checks each input that allocates more than it frees).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
# One thread per fuzzer process: the readers do not need LibTorch's thread pools.
export OMP_NUM_THREADS=1
# The targets write each input to a file: keep those in memory where the machine allows.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi

run_one() {
  local t=$1
  mkdir -p "$BUILD/corpus/$t" "$BUILD/findings/$t"
  # -rss_limit_mb also caps a single allocation: a reader that allocates gigabytes for a small file is a finding.
  "$BUILD/fuzz_$t" "$BUILD/corpus/$t" "$BUILD/seeds/$t" -max_total_time="$SECONDS_PER_TARGET" \
    -rss_limit_mb=2048 -timeout=20 -max_len=8192 -print_final_stats=1 \
    ${FUZZ_SEED:+-seed="$FUZZ_SEED"} ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} \
    -artifact_prefix="$BUILD/findings/$t/" >"$BUILD/log-$t.txt" 2>&1 && rc=0 || rc=$?
  echo "$rc" >"$BUILD/rc-$t.txt"
}

status=0
running=0
for t in "${TARGETS[@]}"; do
  rm -f "$BUILD/rc-$t.txt"
  run_one "$t" &
  running=$((running + 1))
  if ((running >= JOBS)); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait
printf '%-14s %12s %8s  %s\n' target executions exec/s result
for t in "${TARGETS[@]}"; do
  rc=$(cat "$BUILD/rc-$t.txt" 2>/dev/null || echo "?")
  runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$BUILD/log-$t.txt" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$BUILD/log-$t.txt" | tail -1)
  result=ok
  if [ "$rc" != 0 ]; then
    result="FINDING (exit $rc): see $BUILD/log-$t.txt and $BUILD/findings/$t/"
    status=1
  fi
  printf '%-14s %12s %8s  %s\n' "$t" "${runs:-?}" "${rate:-?}" "$result"
done
exit $status
