#!/usr/bin/env bash
# Kipper end-to-end on a throw-away kind cluster with Argo CD (`npm run e2e:kind`).
#
#   webhook -> bridge commits -> Argo CD syncs -> Deployment spec has the new image
#   kip app rollback -> bridge commits -> Argo CD syncs -> Deployment spec has the old image
#   webhook ?wait= -> bridge reads Argo CD's API -> 200 healthy / 504 timeout; kip app wait
#
# Exit status: 0 passed; 77 skipped (a prerequisite is missing: each one is printed, with
# why); 1 failed. Never 0 without having run. See README.md next to this file.
#
# Settings (environment):
#   KIND_CLUSTER_NAME      cluster to create (default kipper-e2e; an existing one is refused)
#   ARGOCD_VERSION         Argo CD release to install (default below, pinned)
#   KIPPER_E2E_PORT        port of the local bridge (default: a free port)
#   KIPPER_E2E_HOST_ADDR   address of this machine as seen from the cluster's nodes
#                          (default: the kind network's gateway; host.docker.internal on
#                          Docker Desktop)
#   KIPPER_E2E_TIMEOUT     seconds to wait for each sync (default 300)
#   KEEP_CLUSTER=1         keep the cluster (and its kubeconfig) for debugging
set -euo pipefail

readonly SKIPPED=77
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
readonly ROOT
readonly CLUSTER=${KIND_CLUSTER_NAME:-kipper-e2e}
readonly ARGOCD_VERSION=${ARGOCD_VERSION:-v3.3.6}
readonly ARGOCD_MANIFEST="https://raw.githubusercontent.com/argoproj/argo-cd/${ARGOCD_VERSION}/manifests/install.yaml"
readonly TIMEOUT=${KIPPER_E2E_TIMEOUT:-300}
readonly APP_NS=demo-test
readonly APP=api
readonly SEED_FILE="$ROOT/fixtures/seed/apps/demo-test/api/deployment.yaml"

log() { printf '[e2e:kind] %s\n' "$*" >&2; }
fail() {
  log "FAILED: $*"
  exit 1
}

# ---- prerequisites: report every missing one, then skip with a distinct status -------
missing=()
need_cmd() { # name, why
  command -v "$1" >/dev/null 2>&1 || missing+=("$1: not found on PATH ($2)")
}
need_cmd docker "kind runs the cluster's nodes as Docker containers"
need_cmd kind "creates the throw-away cluster (https://kind.sigs.k8s.io)"
need_cmd kubectl "installs Argo CD and reads the Deployment"
need_cmd curl "posts the webhook and checks network access"
need_cmd git "checks the bridge's /git/config.git"
need_cmd node "runs the bridge and kip"
need_cmd npm "builds the bridge"
if command -v docker >/dev/null 2>&1; then
  if ! docker_err=$(timeout 30 docker info 2>&1 >/dev/null); then
    missing+=("docker daemon: not reachable, \`docker info\` failed: $(printf '%s' "$docker_err" | grep -v '^\s*$' | tail -n 1)")
  fi
fi
# Network is probed only where the run could go ahead otherwise: a machine without a
# Docker engine or kind never sends a request outside (some sandboxes flag any).
if [ ${#missing[@]} -gt 0 ]; then
  missing+=("network access: not checked (the local prerequisites above are missing first)")
elif command -v curl >/dev/null 2>&1; then
  # The Argo CD manifest (GitHub), its images (quay.io) and the kind node image (Docker Hub).
  if ! curl -fsSI --max-time 15 -o /dev/null "$ARGOCD_MANIFEST" 2>/dev/null; then
    missing+=("network access: cannot fetch the Argo CD manifest $ARGOCD_MANIFEST")
  fi
  for registry in https://quay.io/v2/ https://registry-1.docker.io/v2/; do
    code=$(curl -sS -o /dev/null --max-time 15 -w '%{http_code}' "$registry" 2>/dev/null || true)
    if [ -z "$code" ] || [ "$code" = 000 ]; then
      missing+=("network access: container registry $registry is unreachable (Argo CD images are on quay.io, the kind node image on Docker Hub)")
    fi
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "SKIPPED (exit $SKIPPED): the kind end-to-end needs every prerequisite below; missing:"
  for m in "${missing[@]}"; do log "  - $m"; done
  log "Nothing was created."
  exit "$SKIPPED"
fi

# ---- run ------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kipper-e2e.XXXXXX")
readonly WORK
export KUBECONFIG="$WORK/kubeconfig" # never touches the user's ~/.kube/config
BRIDGE_PID=''
PORT_FORWARD_PID=''
REFRESHER_PID=''
CREATED_CLUSTER=0

diagnostics() {
  log '--- diagnostics ---'
  if [ "$CREATED_CLUSTER" = 1 ]; then
    kubectl -n argocd get application demo-test-api -o yaml 2>&1 | sed -n '/^status:/,$p' | head -n 60 >&2 || true
    kubectl -n "$APP_NS" get deploy,rs,pods -o wide >&2 2>&1 || true
  fi
  log 'bridge log (last 40 lines):'
  tail -n 40 "$WORK/bridge.log" >&2 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [ "$rc" -ne 0 ] && diagnostics
  for pid in $REFRESHER_PID $PORT_FORWARD_PID; do kill "$pid" 2>/dev/null; done
  if [ -n "$BRIDGE_PID" ]; then
    kill -TERM "$BRIDGE_PID" 2>/dev/null
    wait "$BRIDGE_PID" 2>/dev/null
  fi
  if [ "$CREATED_CLUSTER" = 1 ]; then
    if [ "${KEEP_CLUSTER:-0}" = 1 ]; then
      log "KEEP_CLUSTER=1: cluster '$CLUSTER' kept; KUBECONFIG=$KUBECONFIG; delete with: kind delete cluster --name $CLUSTER"
    else
      log "deleting kind cluster '$CLUSTER'"
      kind delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" >/dev/null 2>&1
    fi
  fi
  if [ "${KEEP_CLUSTER:-0}" != 1 ]; then rm -rf "$WORK"; fi
  if [ "$rc" -eq 0 ]; then log 'PASSED'; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

deploy_image() {
  kubectl get deployment "$APP" -n "$APP_NS" \
    -o jsonpath='{.spec.template.spec.containers[?(@.name=="api")].image}' 2>/dev/null || true
}

# Wait until the Deployment's pod TEMPLATE names $1. Not pod readiness: the example image
# registry.example.com/api:… cannot be pulled, and what Kipper changes is the spec.
wait_for_image() {
  local want=$1 what=$2 deadline=$((SECONDS + TIMEOUT)) got=''
  log "waiting up to ${TIMEOUT}s for the Deployment to have $want ($what)"
  while [ $SECONDS -lt $deadline ]; do
    got=$(deploy_image)
    if [ "$got" = "$want" ]; then
      log "Deployment $APP_NS/$APP has $want"
      return 0
    fi
    # Argo CD polls git every 3 minutes; ask it to look at the repo now.
    kubectl -n argocd annotate application demo-test-api argocd.argoproj.io/refresh=normal --overwrite >/dev/null 2>&1 || true
    sleep 5
  done
  fail "timed out: the Deployment has '${got:-<none>}', expected '$want' ($what)"
}

log "building the bridge"
(cd "$ROOT" && npm run build --silent)

PORT=${KIPPER_E2E_PORT:-$(node -e 'const s=require("net").createServer().listen(0,()=>{console.log(s.address().port);s.close()})')}
readonly PORT
readonly LOCAL_URL="http://127.0.0.1:$PORT"
# The same keys for `kip serve` and `kip` (the CLI reads KIPPER_ADMIN_TOKEN).
KIPPER_SECRET_KEY=$(node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))')
KIPPER_ADMIN_TOKEN=$(node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))')
export KIPPER_SECRET_KEY KIPPER_ADMIN_TOKEN
export KIPPER_URL="$LOCAL_URL"

# The bridge on its embedded default (a fresh data dir, seeded with demo-test/api).
# KIPPER_HOST=0.0.0.0 so that the cluster's nodes (other Docker containers) can reach it;
# for the run's duration it is also reachable from your network: a throw-away demo repo
# with random tokens.
log "starting the bridge on 0.0.0.0:$PORT (data dir $WORK/data)"
(
  cd "$ROOT"
  KIPPER_HOST=0.0.0.0 KIPPER_PORT="$PORT" KIPPER_DATA_DIR="$WORK/data" KIPPER_LOG_LEVEL=info \
    exec node bin/kip.js serve
) >"$WORK/bridge.log" 2>&1 &
BRIDGE_PID=$!

deadline=$((SECONDS + 60))
until curl -fsS --max-time 2 "$LOCAL_URL/readyz" >/dev/null 2>&1; do
  kill -0 "$BRIDGE_PID" 2>/dev/null || { BRIDGE_PID=''; fail "the bridge exited at start"; }
  [ $SECONDS -lt $deadline ] || fail "the bridge did not become ready on $LOCAL_URL within 60s"
  sleep 1
done
TOKEN=$(sed -n 's/^Secret token: \([0-9a-f]\{64\}\)$/\1/p' "$WORK/bridge.log" | head -n 1)
[ -n "$TOKEN" ] || fail "the bridge did not print the example app's webhook token"
git ls-remote "$LOCAL_URL/git/config.git" refs/heads/main >/dev/null 2>&1 \
  || fail "the bridge does not serve its embedded repo at $LOCAL_URL/git/config.git (git ls-remote failed)"
log "bridge ready; /git/config.git answers"

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  fail "a kind cluster named '$CLUSTER' already exists; delete it or set KIND_CLUSTER_NAME"
fi
log "creating kind cluster '$CLUSTER'"
CREATED_CLUSTER=1
kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" --wait 180s

# How the cluster reaches the bridge on this machine. On Linux the kind nodes sit on the
# Docker network `kind`, whose gateway address is this machine; pods reach it through
# their node. Docker Desktop (macOS, Windows) runs containers in a VM: there the host is
# `host.docker.internal`.
HOST_ADDR=${KIPPER_E2E_HOST_ADDR:-}
if [ -z "$HOST_ADDR" ]; then
  if docker info --format '{{.OperatingSystem}}' 2>/dev/null | grep -qi 'docker desktop'; then
    HOST_ADDR=host.docker.internal
  else
    HOST_ADDR=$(docker exec "$CLUSTER-control-plane" ip -4 route show default 2>/dev/null | awk '{print $3; exit}' || true)
    if [ -z "$HOST_ADDR" ]; then
      HOST_ADDR=$(docker network inspect kind --format '{{range .IPAM.Config}}{{.Gateway}} {{end}}' \
        | tr ' ' '\n' | grep -E '^[0-9]+(\.[0-9]+){3}$' | head -n 1 || true)
    fi
  fi
fi
[ -n "$HOST_ADDR" ] || fail "could not tell this machine's address on the kind network; set KIPPER_E2E_HOST_ADDR"
readonly REPO_URL="http://$HOST_ADDR:$PORT/git/config.git"
# A TCP connect from the node (bash's /dev/tcp: no curl needed in the node image).
docker exec "$CLUSTER-control-plane" timeout 10 bash -c "exec 3<>/dev/tcp/$HOST_ADDR/$PORT" \
  || fail "the cluster's node cannot reach the bridge at http://$HOST_ADDR:$PORT (a host firewall? set KIPPER_E2E_HOST_ADDR)"
log "the cluster reads the config repo at $REPO_URL"

log "installing Argo CD $ARGOCD_VERSION"
kubectl create namespace argocd
kubectl apply -n argocd --server-side --force-conflicts -f "$ARGOCD_MANIFEST" >/dev/null
kubectl wait --for condition=established --timeout=120s crd/applications.argoproj.io
kubectl -n argocd rollout status deployment/argocd-repo-server --timeout=300s
kubectl -n argocd rollout status statefulset/argocd-application-controller --timeout=300s

log "creating the Argo CD Application for $APP_NS/$APP (path apps/demo-test/api, auto-sync)"
kubectl apply -f - <<EOF
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: demo-test-api
  namespace: argocd
spec:
  project: default
  source:
    repoURL: $REPO_URL
    targetRevision: main
    path: apps/demo-test/api
  destination:
    server: https://kubernetes.default.svc
    namespace: $APP_NS
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
      - CreateNamespace=true
    retry:
      limit: 5
      backoff:
        duration: 5s
EOF

OLD_IMAGE=$(sed -n 's/^ *image: \(registry\.example\.com\/api:[^ ]*\).*$/\1/p' "$SEED_FILE" | head -n 1)
[ -n "$OLD_IMAGE" ] || fail "no registry.example.com/api image in $SEED_FILE"
wait_for_image "$OLD_IMAGE" "first sync of the seed"

NEW_IMAGE="registry.example.com/api:e2e-$(date +%s)"
COMMIT=$(node -e 'console.log(require("crypto").randomBytes(20).toString("hex"))')
log "posting the webhook: $NEW_IMAGE"
answer=$(curl -fsS --max-time 60 -X POST "$LOCAL_URL/api/v1/webhook/$APP_NS/$APP" \
  -H "X-Kipper-Token: $TOKEN" -H 'Content-Type: application/json' \
  -d "{\"image\":\"$NEW_IMAGE\",\"commit\":\"$COMMIT\"}") || fail "the webhook was not answered 2xx"
log "bridge answered: $answer"
case $answer in *'"status":"deployed"'*) ;; *) fail "the webhook did not deploy" ;; esac
wait_for_image "$NEW_IMAGE" "webhook deploy"

log "rolling back with kip"
(cd "$ROOT" && node bin/kip.js app rollback "$APP" --project demo --environment test) >&2 \
  || fail "kip app rollback failed"
wait_for_image "$OLD_IMAGE" "rollback"

# ---- rollout status through the real Argo CD API (`?wait=`, `kip app wait`) -----------
# The bridge reads Argo CD's API, never the cluster. For the run, argocd-server serves
# plain HTTP (server.insecure) behind a port-forward, and the bridge signs in as admin.
log "rollout: making argocd-server reachable from this machine"
kubectl -n argocd patch configmap argocd-cmd-params-cm --type merge -p '{"data":{"server.insecure":"true"}}' >/dev/null
kubectl -n argocd rollout restart deployment/argocd-server >/dev/null
kubectl -n argocd rollout status deployment/argocd-server --timeout=300s
ARGOCD_PORT=$(node -e 'const s=require("net").createServer().listen(0,()=>{console.log(s.address().port);s.close()})')
kubectl -n argocd port-forward svc/argocd-server "$ARGOCD_PORT:80" >"$WORK/port-forward.log" 2>&1 &
PORT_FORWARD_PID=$!
readonly ARGOCD_URL="http://127.0.0.1:$ARGOCD_PORT"
deadline=$((SECONDS + 60))
until curl -fsS --max-time 2 "$ARGOCD_URL/api/version" >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || fail "Argo CD's API did not answer on $ARGOCD_URL (port-forward log: $(tail -n 3 "$WORK/port-forward.log"))"
  sleep 1
done
ARGOCD_PASSWORD=$(kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d)
KIPPER_ARGOCD_TOKEN=$(curl -fsS --max-time 10 -X POST "$ARGOCD_URL/api/v1/session" -H 'Content-Type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$ARGOCD_PASSWORD\"}" | node -e 'let s="";process.stdin.on("data",(c)=>s+=c).on("end",()=>console.log(JSON.parse(s).token))') \
  || fail "could not sign in to Argo CD's API as admin"
export KIPPER_ARGOCD_TOKEN
export KIPPER_ARGOCD_URL="$ARGOCD_URL"

# A config change a human would make, straight in git while the bridge is stopped:
#  - kipper.yaml: the app's Argo CD Application, so the bridge reports its rollouts;
#  - the Deployment: without the example init container (its image does not exist) and
#    with a 60 s progress deadline, so a pod that cannot start turns Degraded quickly.
log "rollout: stopping the bridge to tell it about the Argo CD Application"
kill -TERM "$BRIDGE_PID"
wait "$BRIDGE_PID" || true
BRIDGE_PID=''
git clone -q "$WORK/data/config.git" "$WORK/config"
(
  cd "$WORK/config"
  node -e '
    const fs = require("fs");
    const y = fs.readFileSync("kipper.yaml", "utf8");
    const entry = /(- namespace: demo-test\s[\s\S]*?\n    container: api[^\n]*\n)/;
    if (!entry.test(y)) { console.error("kipper.yaml: no demo-test/api entry with container: api"); process.exit(1); }
    fs.writeFileSync("kipper.yaml", y.replace(entry, "$1    argocd: { application: demo-test-api }\n"));
    const f = "apps/demo-test/api/deployment.yaml";
    let d = fs.readFileSync(f, "utf8");
    d = d.replace(/      initContainers:\n(        [^\n]*\n|          [^\n]*\n)*/, "");
    d = d.replace("spec:\n  replicas: 2\n", "spec:\n  replicas: 2\n  progressDeadlineSeconds: 60\n");
    fs.writeFileSync(f, d);
  '
  grep -q 'argocd: { application: demo-test-api }' kipper.yaml || fail "kipper.yaml was not changed"
  grep -q 'progressDeadlineSeconds: 60' apps/demo-test/api/deployment.yaml || fail "the Deployment was not changed"
  git -c user.name=e2e -c user.email=e2e@kipper.invalid commit -qam 'e2e: report demo-test/api rollouts from Argo CD'
  git push -q origin HEAD:main
) || fail "could not change the config repo"

log "rollout: restarting the bridge with KIPPER_ARGOCD_URL"
(
  cd "$ROOT"
  KIPPER_HOST=0.0.0.0 KIPPER_PORT="$PORT" KIPPER_DATA_DIR="$WORK/data" KIPPER_LOG_LEVEL=info \
    exec node bin/kip.js serve
) >>"$WORK/bridge.log" 2>&1 &
BRIDGE_PID=$!
deadline=$((SECONDS + 60))
until curl -fsS --max-time 2 "$LOCAL_URL/readyz" >/dev/null 2>&1; do
  kill -0 "$BRIDGE_PID" 2>/dev/null || { BRIDGE_PID=''; fail "the bridge exited at restart"; }
  [ $SECONDS -lt $deadline ] || fail "the bridge did not become ready again within 60s"
  sleep 1
done

# Argo CD is asked to look at git now and then while the webhook waits (it polls every 3 min).
refresher() {
  while :; do
    kubectl -n argocd annotate application demo-test-api argocd.argoproj.io/refresh=normal --overwrite >/dev/null 2>&1 || true
    sleep 5
  done
}
refresher &
REFRESHER_PID=$!

# post_wait IMAGE SECONDS: the webhook with ?wait=; prints "<http status> <body>".
post_wait() {
  curl -sS --max-time $(($2 + 30)) -o "$WORK/answer.json" -w '%{http_code}' -X POST "$LOCAL_URL/api/v1/webhook/$APP_NS/$APP?wait=$2" \
    -H "X-Kipper-Token: $TOKEN" -H 'Content-Type: application/json' \
    -d "{\"image\":\"$1\",\"commit\":\"$(node -e 'console.log(require("crypto").randomBytes(20).toString("hex"))')\"}" || true
  printf ' %s' "$(cat "$WORK/answer.json" 2>/dev/null)"
}

# 1. A pullable image: the same curl answers 200 once Argo CD synced OUR commit and it is Healthy.
GOOD_IMAGE=registry.k8s.io/pause:3.10
log "rollout: posting $GOOD_IMAGE with ?wait=$TIMEOUT"
answer=$(post_wait "$GOOD_IMAGE" "$TIMEOUT")
log "bridge answered: $answer"
case $answer in '200 '*'"state":"healthy"'*) ;; *) fail "expected 200 with a healthy rollout" ;; esac
(cd "$ROOT" && node bin/kip.js app wait "$APP" --project demo --environment test --timeout 60s) >&2 \
  || fail "kip app wait did not report the healthy revision (exit $?)"

# 2. An image that cannot be pulled: a short wait times out (504, last state progressing),
#    then `kip app wait` sees the Deployment pass its progress deadline (exit 1, degraded).
BAD_IMAGE="registry.example.com/api:missing-$(date +%s)"
log "rollout: posting $BAD_IMAGE with ?wait=20"
answer=$(post_wait "$BAD_IMAGE" 20)
log "bridge answered: $answer"
case $answer in '504 '*'ROLLOUT_TIMEOUT'*) ;; *) fail "expected 504 ROLLOUT_TIMEOUT for an image that cannot be pulled" ;; esac
set +e
(cd "$ROOT" && node bin/kip.js app wait "$APP" --project demo --environment test --timeout "${TIMEOUT}s") >&2
status=$?
set -e
[ "$status" = 1 ] || fail "kip app wait exited $status for a Deployment past its progress deadline, expected 1 (degraded)"
kill "$REFRESHER_PID" "$PORT_FORWARD_PID" 2>/dev/null || true
REFRESHER_PID=''
PORT_FORWARD_PID=''
log "rollout: 200 healthy, 504 timeout and a degraded exit 1 read from the real Argo CD"
