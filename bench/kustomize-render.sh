#!/usr/bin/env bash
# Renders every output case of the Kustomize conformance corpus with
# `slipway render` (the release binary) and with `kubectl kustomize`, in the
# same run, and prints per case the mean wall time of each and the ratio
# (kubectl time / slipway time), then the minimum, median and overall ratio
# and the cases below the target ratio.
#
# Usage: bench/kustomize-render.sh [SLIPWAY_BIN] [CONFORMANCE_DIR]
#   SLIPWAY_BIN defaults to $SLIPWAY_BIN, else ${CARGO_TARGET_DIR:-target}/release/slipway
#   (or the quicker-to-build renderer example, same code path:
#   `cargo build --release -p slipway-manifests --example kustomize_render`,
#   then pass target/release/examples/kustomize_render)
#   (build it with `cargo build --release -p slipway`); CONFORMANCE_DIR to
#   $SLIPWAY_CONFORMANCE_DIR, else ../shared/conformance.
# Env: RUNS (renders per case and tool, default 5), TARGET_RATIO (default 10).
# Exit status: 0 when every case meets TARGET_RATIO, 1 when some do not,
# 2 when a tool is missing or slipway fails to render a case.
set -euo pipefail
bin=${1:-${SLIPWAY_BIN:-${CARGO_TARGET_DIR:-target}/release/slipway}}
root=${2:-${SLIPWAY_CONFORMANCE_DIR:-../shared/conformance}}/kustomize/cases
runs=${RUNS:-5}
target_ratio=${TARGET_RATIO:-10}
command -v kubectl >/dev/null || { echo "kubectl not found" >&2; exit 2; }
[ -x "$bin" ] || { echo "slipway binary not found at $bin; build it with: cargo build --release -p slipway" >&2; exit 2; }
case "$bin" in
  */debug/*) echo "warning: $bin is a debug build; the ratio target is for the release binary" >&2 ;;
esac
[ -d "$root" ] || { echo "corpus not found at $root" >&2; exit 2; }
now() { date +%s%N; }
results=$(mktemp)
trap 'rm -f "$results"' EXIT
printf '%-100s %10s %10s %8s\n' case slipway_ms kubectl_ms ratio
for dir in "$root"/*/; do
  case=$(basename "$dir")
  [ -f "$dir/expected.yaml" ] || continue
  target=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["target"])' "$dir/case.json")
  # One untimed render each: checks that both succeed and warms the page cache.
  "$bin" render "$dir/$target" >/dev/null 2>&1 || { echo "slipway render failed on $case" >&2; exit 2; }
  kubectl kustomize "$dir/$target" >/dev/null 2>&1 || { echo "kubectl kustomize failed on $case" >&2; exit 2; }
  t0=$(now); for _ in $(seq "$runs"); do "$bin" render "$dir/$target" >/dev/null; done; t1=$(now)
  for _ in $(seq "$runs"); do kubectl kustomize "$dir/$target" >/dev/null; done; t2=$(now)
  s=$(( (t1 - t0) / runs )); k=$(( (t2 - t1) / runs ))
  echo "$case $s $k" >> "$results"
  awk -v c="$case" -v s="$s" -v k="$k" 'BEGIN { printf "%-100s %10.2f %10.2f %7.1fx\n", c, s/1e6, k/1e6, k/s }'
done
# Summary (POSIX awk: ratios are sorted by `sort`, not in awk).
awk '{ printf "%.6f %s\n", $3 / $2, $1 }' "$results" | sort -g > "$results.sorted"
trap 'rm -f "$results" "$results.sorted"' EXIT
awk -v t="$target_ratio" -v runs="$runs" '
  NR == FNR { s += $2; k += $3; next }
  { n++; r[n] = $1; if ($1 < t) { below++; slow = slow sprintf("\n  %s (%.1fx)", $2, $1) } }
  END {
    median = (n % 2) ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
    printf "\n%d cases, %d runs each: slipway %.2f ms/case, kubectl kustomize %.2f ms/case\n", n, runs, s / n / 1e6, k / n / 1e6
    printf "ratio per case: min %.1fx, median %.1fx, max %.1fx; overall %.1fx (target %sx)\n", r[1], median, r[n], k / s, t
    if (below) { printf "%d cases below %sx:%s\n", below, t, slow; exit 1 }
    printf "every case meets the %sx target\n", t
  }' "$results" "$results.sorted"
