#!/usr/bin/env bash
# npm run fuzz [-- target…]: runs each libFuzzer target for FUZZ_SECONDS (default 60) and
# fails if any input crashes one. A crashing input is copied into
# fuzz/regressions/<target>/, which `cargo test` replays (tests/fuzz_regressions.rs).
#
# Works on the stable toolchain: cargo-fuzz passes nightly-only flags (-Zsanitizer=address,
# sanitizer coverage), which stable rustc accepts with RUSTC_BOOTSTRAP=1 (see docs/SECURITY.md).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz_dir="$repo_root/fuzz"
seconds="${FUZZ_SECONDS:-60}"
all_targets=(jwt_decode jwks_parse token_response cookie_jar)
targets=("${@:-${all_targets[@]}}")

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
  exit 2
fi
export RUSTC_BOOTSTRAP=1

cd "$fuzz_dir"
echo "building ${#targets[@]} fuzz target(s) (the first build takes a few minutes)"
# cargo-fuzz's default build: optimised, with debug assertions and overflow checks on, so
# an arithmetic overflow is found as a crash instead of wrapping silently.
for target in "${targets[@]}"; do
  cargo fuzz build "$target"
done

failed=()
summary=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "regressions/$target" "artifacts/$target"
  log="artifacts/$target/last-run.log"
  echo "fuzzing $target for ${seconds}s"
  # The first directory receives new interesting inputs; seeds and saved regressions are
  # read as a starting corpus. -timeout turns an input that hangs the parser into a failure.
  if cargo fuzz run "$target" "corpus/$target" "seeds/$target" "regressions/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
    outcome=clean
  else
    outcome=FAILED
    failed+=("$target")
    for artifact in "artifacts/$target"/{crash,leak,oom,timeout,slow-unit}-*; do
      [ -e "$artifact" ] || continue
      outcome=CRASHED
      cp "$artifact" "regressions/$target/"
      echo "saved $artifact to regressions/$target/"
    done
    tail -40 "$log" >&2
  fi
  runs="$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 executions in \2 s/p' "$log" | tail -1)"
  summary+=("$(printf '%-16s %-8s %s' "$target" "$outcome" "${runs:-no final count (see $log)}")")
done

echo
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "failed: ${failed[*]}; crashing inputs are saved in fuzz/regressions/ (replayed by cargo test)" >&2
  exit 1
fi
