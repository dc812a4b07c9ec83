#!/usr/bin/env bash
# Image build + push benchmark, side by side in the same run: a 100 MB directory
# (half compressible text, half random bytes, 2,000 files) made into an image and
# pushed to a local Debian `docker-registry` on 127.0.0.1, by
#   slipway: `slipway image build DIR --tag 127.0.0.1:PORT/bench/slipway-N:v1 --insecure`
#   umoci + skopeo: umoci init/new/unpack, cp into rootfs, umoci repack + config,
#                   `skopeo copy oci:LAYOUT:v1 docker://127.0.0.1:PORT/bench/umoci-N:v1`
# Each run pushes to a fresh repository so no blob is skipped. Prints per-run and
# median times and the ratio (umoci+skopeo / slipway).
#
# Usage: bench/image.sh [SLIPWAY_BIN] [RUNS]
#   SLIPWAY_BIN defaults to ${CARGO_TARGET_DIR:-target}/release/slipway
#   (build it with `cargo build --release -p slipway`); RUNS to 3; SIZE_MB env to 100.
# Needs: apt-get install -y docker-registry skopeo umoci; python3.
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-target}/release/slipway}
runs=${2:-3}
size_mb=${SIZE_MB:-100}
for t in docker-registry skopeo umoci python3; do
  command -v "$t" >/dev/null || { echo "$t not found (apt-get install -y docker-registry skopeo umoci)" >&2; exit 2; }
done
[ -x "$bin" ] || { echo "$bin not found: cargo build --release -p slipway" >&2; exit 2; }

work=$(mktemp -d)
reg_pid=
cleanup() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The input: deterministic, 2,000 files in 20 directories.
python3 - "$work/src" "$size_mb" <<'EOF'
import os, random, sys
root, size_mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
words = [("w%d" % i) for i in range(5000)]
total, per = size_mb * 1024 * 1024, size_mb * 1024 * 1024 // 2000
for i in range(2000):
    d = os.path.join(root, "d%02d" % (i % 20))
    os.makedirs(d, exist_ok=True)
    if i % 2:
        data = rng.randbytes(per)
    else:
        data = " ".join(rng.choice(words) for _ in range(per // 5)).encode()[:per]
    with open(os.path.join(d, "f%04d" % i), "wb") as f:
        f.write(data)
EOF
echo "input: $(du -sm "$work/src" | cut -f1) MB in $(find "$work/src" -type f | wc -l) files"

port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()')
cat > "$work/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/config.yml" > "$work/registry.log" 2>&1 &
reg_pid=$!
until python3 -c "import socket;socket.create_connection(('127.0.0.1',$port))" 2>/dev/null; do sleep 0.05; done

now() { date +%s%N; }
slipway_run() {
  "$bin" image build "$work/src" --tag "127.0.0.1:$port/bench/slipway-$1:v1" --insecure \
    --entrypoint /d00/f0000 --data-dir "$work/slipway-data" >/dev/null
}
umoci_run() {
  local l="$work/umoci-$1"
  umoci init --layout "$l/layout"
  umoci new --image "$l/layout:v1"
  umoci unpack --rootless --image "$l/layout:v1" "$l/bundle" >/dev/null
  cp -a "$work/src/." "$l/bundle/rootfs/"
  umoci repack --image "$l/layout:v1" "$l/bundle"
  umoci config --image "$l/layout:v1" --architecture amd64 --os linux --config.entrypoint /d00/f0000
  skopeo copy -q --dest-tls-verify=false "oci:$l/layout:v1" "docker://127.0.0.1:$port/bench/umoci-$1:v1"
  rm -rf "$l"
}

s_times=(); u_times=()
printf '%4s %12s %16s %7s\n' run slipway_ms umoci+skopeo_ms ratio
for i in $(seq "$runs"); do
  t0=$(now); slipway_run "$i"; t1=$(now); umoci_run "$i"; t2=$(now)
  s=$(( (t1 - t0) / 1000000 )); u=$(( (t2 - t1) / 1000000 ))
  s_times+=("$s"); u_times+=("$u")
  awk -v i="$i" -v s="$s" -v u="$u" 'BEGIN { printf "%4d %12d %16d %6.1fx\n", i, s, u, u/s }'
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ms=$(median "${s_times[@]}"); mu=$(median "${u_times[@]}")
awk -v s="$ms" -v u="$mu" -v n="$runs" 'BEGIN { printf "\nmedian of %d: slipway %d ms, umoci+skopeo %d ms, ratio %.1fx\n", n, s, u, u/s }'
