#!/usr/bin/env bash
# Renders every case of the Kustomize conformance corpus with `slipway render`
# and with `kubectl kustomize`, in the same run, and prints the per-case times
# and the ratio (kubectl time / slipway time).
#
# Usage: bench/kustomize-render.sh [SLIPWAY_BIN] [CONFORMANCE_DIR]
#   SLIPWAY_BIN defaults to target/release/slipway (build it with
#   `cargo build --release -p slipway`); CONFORMANCE_DIR to ../shared/conformance.
set -euo pipefail
bin=${1:-target/release/slipway}
root=${2:-${SLIPWAY_CONFORMANCE_DIR:-../shared/conformance}}/kustomize/cases
runs=${RUNS:-3}
command -v kubectl >/dev/null || { echo "kubectl not found" >&2; exit 2; }
now() { date +%s%N; }
total_s=0; total_k=0; n=0
printf '%-90s %10s %10s %7s\n' case slipway_ms kubectl_ms ratio
for dir in "$root"/*/; do
  case=$(basename "$dir")
  target=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["target"])' "$dir/case.json")
  [ -f "$dir/expected.yaml" ] || continue
  t0=$(now); for _ in $(seq "$runs"); do "$bin" render "$dir/$target" >/dev/null 2>&1 || true; done; t1=$(now)
  for _ in $(seq "$runs"); do kubectl kustomize "$dir/$target" >/dev/null 2>&1 || true; done; t2=$(now)
  s=$(( (t1 - t0) / runs )); k=$(( (t2 - t1) / runs ))
  total_s=$((total_s + s)); total_k=$((total_k + k)); n=$((n + 1))
  awk -v c="$case" -v s="$s" -v k="$k" 'BEGIN { printf "%-90s %10.2f %10.2f %7.1fx\n", c, s/1e6, k/1e6, k/s }'
done
awk -v n="$n" -v s="$total_s" -v k="$total_k" 'BEGIN { printf "\n%d cases: slipway %.2f ms/case, kubectl kustomize %.2f ms/case, ratio %.1fx\n", n, s/n/1e6, k/n/1e6, k/s }'
