#!/usr/bin/env bash
# Benchmark: score the synthetic corpus of shared/research (2,000 workloads, 20 per file) with
# `slipway scan manifests`, with and without schema validation, best of 5, reporting wall time,
# CPU time and peak RSS (GNU time). Targets: under 0.2 s and under 64 MB.
#
#   crates/slipway-scan/bench/kubesec.sh            # corpus generated in a temp dir
#   CORPUS=/tmp/corpus crates/slipway-scan/bench/kubesec.sh
#
# Env: SLIPWAY_SHARED_DIR (default ../shared next to the workspace), CARGO_TARGET_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
shared=${SLIPWAY_SHARED_DIR:-$root/../shared}
corpus=${CORPUS:-$(mktemp -d)}
if [ -z "$(ls -A "$corpus" 2>/dev/null)" ]; then
  python3 "$shared/research/tools/gen_manifests.py" --out "$corpus" --count 2000 --per-file 20 --seed 1 >/dev/null
fi
(cd "$root" && cargo build --release -q -p slipway)
bin=${CARGO_TARGET_DIR:-$root/target}/release/slipway
docs=$("$bin" scan manifests -f json "$corpus" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' || true)
echo "corpus: $corpus ($(find "$corpus" -type f | wc -l) files, $docs documents)"
timing=$(mktemp)
run() {
  local best="" line
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f "%e %U %S %M" -o "$timing" "$bin" scan manifests -f json "$@" "$corpus" >/dev/null 2>&1 || true
    line=$(tail -1 "$timing")
    if [ -z "$best" ] || awk -v a="$line" -v b="$best" 'BEGIN{split(a,x," ");split(b,y," ");exit !(x[1]<y[1])}'; then
      best=$line
    fi
  done
  set -- $best
  printf '%-14s best of 5: %ss wall, %ss CPU (user %s + sys %s), peak RSS %d MB\n' \
    "${label}" "$1" "$(awk -v u="$2" -v s="$3" 'BEGIN{print u+s}')" "$2" "$3" "$(( $4 / 1024 ))"
}
label="schema on" run
label="--no-schema" run --no-schema
