#!/usr/bin/env bash
# Control plane resident memory with 1,000 Applications (issue target:
# < 150 MB). Generates a platform Git repository with one embedded
# environment and APPS application directories (a Deployment, a Service and a
# ConfigMap each), registers one automated Application (prune, self-heal) per
# directory, starts `slipway serve`, waits until two reconcile passes have
# finished (the first syncs every app, the second is the steady state) and
# reads VmRSS / VmHWM of the server from /proc.
#
# Usage: bench/serve-memory.sh [SLIPWAY_BIN]
#   SLIPWAY_BIN defaults to target/release/slipway (build it with
#   `cargo build --release -p slipway`). APPS (default 1000) sets the count.
set -euo pipefail
bin=$(realpath "${1:-target/release/slipway}")
apps=${APPS:-1000}
work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

repo=$work/platform
data=$work/data
python3 - "$repo" "$apps" <<'EOF'
import os, sys
repo, n = sys.argv[1], int(sys.argv[2])
os.makedirs(repo, exist_ok=True)
open(f"{repo}/slipway.yaml", "w").write(
    "apiVersion: slipway.dev/v1alpha1\nkind: Platform\nmetadata:\n  name: bench\nspec:\n"
    "  environments:\n  - name: prod\n    server: https://prod.example.internal\n    target: {embedded: {}}\n")
apps = []
for i in range(n):
    name = f"app-{i:04d}"
    d = f"{repo}/apps/{name}"
    os.makedirs(d)
    open(f"{d}/deployment.yaml", "w").write(f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app.kubernetes.io/name: {name}}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app.kubernetes.io/name: {name}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: {name}}}
    spec:
      containers:
      - name: app
        image: registry.example.com/{name}:1.{i}.0
        ports: [{{containerPort: 8080}}]
        resources:
          requests: {{cpu: 50m, memory: 64Mi}}
          limits: {{memory: 128Mi}}
""")
    open(f"{d}/service.yaml", "w").write(f"""apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app.kubernetes.io/name: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
""")
    open(f"{d}/configmap.yaml", "w").write(f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}-config
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
""")
    apps.append(f"""apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
spec:
  project: default
  source:
    repoURL: file://{repo}
    targetRevision: HEAD
    path: apps/{name}
  destination:
    name: prod
    namespace: {name}
  syncPolicy:
    automated: {{prune: true, selfHeal: true}}
    syncOptions: [CreateNamespace=true]
""")
open(f"{repo}/../applications.yaml", "w").write("---\n".join(apps))
EOF
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" -c user.name=bench -c user.email=bench@example.com commit -q -m "$apps apps"

"$bin" app apply -f "$work/applications.yaml" --data-dir "$data" --platform "$repo" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start=$(date +%s.%N)
"$bin" serve --data-dir "$data" --platform "$repo" --listen "127.0.0.1:$port" --interval 5 \
  >"$work/serve.out" 2>"$work/serve.log" &
server=$!

passes() {
  { curl -fsS "http://127.0.0.1:$port/metrics" 2>/dev/null || true; } |
    awk '/^slipway_reconciles_total\{result="ok"\}/ { print $2; found=1 } END { if (!found) print 0 }'
}
first=
for _ in $(seq 3600); do
  kill -0 "$server" 2>/dev/null || { echo "serve exited:"; tail -20 "$work/serve.log"; exit 1; }
  p=$(passes)
  if [ -z "$first" ] && [ "${p%.*}" -ge 1 ]; then
    first=$(date +%s.%N)
    rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$server/status")
  fi
  [ "${p%.*}" -ge 2 ] && break
  sleep 0.5
done
end=$(date +%s.%N)
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$server/status")
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$server/status")
synced=$(curl -fsS "http://127.0.0.1:$port/api/v1/applications" |
  python3 -c 'import json,sys; a=json.load(sys.stdin); print(sum(x["sync"]=="Synced" for x in a), len(a))')
objects=$(curl -fsS "http://127.0.0.1:$port/api/v1/environments" |
  python3 -c 'import json,sys; print(sum(e.get("objects",0) for e in json.load(sys.stdin)))')
awk -v n="$apps" -v s="$synced" -v o="$objects" -v a="$start" -v f="$first" -v e="$end" \
    -v r1="$rss1" -v r="$rss" -v h="$hwm" 'BEGIN {
  split(s, sy, " ")
  printf "applications: %d (%d synced), live objects: %d\n", n, sy[1], o
  printf "first reconcile pass (syncs everything): %.1f s after start; second pass done at %.1f s\n", f-a, e-a
  printf "VmRSS after first pass: %.1f MB\n", r1/1024
  printf "VmRSS steady state: %.1f MB, VmHWM (peak): %.1f MB (target < 150 MB)\n", r/1024, h/1024
}'
