#!/usr/bin/env bash
# Advisory database benchmark: generate 200,000 OSV records from the real
# records' shapes, import them, scan a 2,000-package inventory; prints times,
# peak memory (/usr/bin/time -v) and the database size on disk.
# Usage: bench/vuln.sh [N]   (from the workspace root; needs ../shared/conformance)
set -euo pipefail
N="${1:-200000}"
WORK="${BENCH_DIR:-$(mktemp -d)}"
cargo build --release -p slipway-vuln --example osv_bench
BIN="${CARGO_TARGET_DIR:-target}/release/examples/osv_bench"
peak() { grep -E "Maximum resident set size|Elapsed \(wall" "$1" | sed 's/^\s*/  /'; }
"$BIN" generate "$WORK/osv" "$N"
rm -rf "$WORK/data"
/usr/bin/time -v -o "$WORK/import.time" "$BIN" import "$WORK/osv" "$WORK/data"
peak "$WORK/import.time"
/usr/bin/time -v -o "$WORK/scan.time" "$BIN" scan "$WORK/data" "$WORK/osv/inventory.json"
peak "$WORK/scan.time"
du -sh "$WORK/osv" "$WORK/data/osv" | sed 's/^/  /'
echo "work dir: $WORK"
