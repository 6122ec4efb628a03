#!/usr/bin/env bash
# The management API and dashboard benchmark of docs/benchmarks.md ("Management API and
# dashboard (issue 13)"): set up a server in DIR, seed it, load it, stop it.
#
# Usage: scripts/bench-api.sh DIR [ACCOUNTS] [RECORDS]
#
#   DIR       an empty or absent directory for the config, the data and the outputs
#   ACCOUNTS  accounts created through POST /api/v1/accounts (default 10000)
#   RECORDS   messages left in the queue (default 100000)
#
# Everything listens on 127.0.0.1 only. Seeding: the domain bench.test, the admin
# admin@bench.test (console), ACCOUNTS accounts userN@bench.test (`ferrymail bench api
# --seed-accounts`), then RECORDS messages to remote.example submitted with `ferrymail
# bench smtp`. Remote mail goes to a smarthost on a loopback port where nothing listens,
# so every delivery fails at once with a temporary error and the records stay queued
# (deferred, next attempt in 15 minutes). Then: `bench api` on the account and queue
# listings (first and last page), and `bench sse` with 1, 10 and 50 dashboards.
#
# BIN (default target/release) is where `ferrymail` and `ferrymail-bench` are; SECONDS_SSE
# (default 30) the length of each SSE phase; REQUESTS (default 2000) and QUEUE_REQUESTS
# (default 200) the requests of each account and queue listing run.
set -euo pipefail

dir=${1:?usage: scripts/bench-api.sh DIR [ACCOUNTS] [RECORDS]}
accounts=${2:-10000}
records=${3:-100000}
bin=$(cd "${BIN:-target/release}" && pwd)
sse_seconds=${SECONDS_SSE:-30}
requests=${REQUESTS:-2000}
queue_requests=${QUEUE_REQUESTS:-200}
admin_port=${ADMIN_PORT:-35100}
submission_port=${SUBMISSION_PORT:-35587}
dead_port=${DEAD_PORT:-35999}
password=bench-admin-password

mkdir -p "$dir"
cd "$dir"
cat > ferrymail.toml <<EOF
hostname = "bench.test"
data_dir = "data"
[listeners]
submission = "127.0.0.1:$submission_port"
admin = "127.0.0.1:$admin_port"
[smtp]
allow_plaintext_auth = true
[delivery]
smarthost = "127.0.0.1:$dead_port"
[auth]
verify = false
[log]
level = "warn"
EOF

ferrymail() { "$bin/ferrymail" "$@"; }
ferrymail domain add bench.test --config ferrymail.toml || true
ferrymail account add admin@bench.test --password "$password" --admin --config ferrymail.toml || true

ferrymail serve --config ferrymail.toml > serve.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sk "https://127.0.0.1:$admin_port/health" > /dev/null && break
  sleep 0.2
done

api() { curl -sk -u "admin@bench.test:$password" "https://127.0.0.1:$admin_port$1"; }
bench() { "$bin/ferrymail-bench" "$@"; }
target=(--target "127.0.0.1:$admin_port" --tls --user admin@bench.test --password "$password")

bench api "${target[@]}" --seed-accounts "$accounts" --seed-domain bench.test \
  --concurrency 4 --server-pid "$server" | tee seed-accounts.txt

queued() { api /api/v1/queues | jq '[.items[] | select(.name != "local") | .count] | add'; }
have=$(queued)
if [ "$have" -lt "$records" ]; then
  bench smtp --target "127.0.0.1:$submission_port" --auth "admin@bench.test:$password" \
    --from admin@bench.test --to bench@remote.example --connections 8 --size 2048 \
    --messages $((records - have)) --pipelining --server-pid "$server" | tee seed-queue.txt
fi
# Wait (bounded) until no record is waiting for its first attempt.
for _ in $(seq 1 600); do
  api /api/v1/queues > queues.json
  [ "$(jq '[.items[] | select(.name == "remote") | .count] | add' queues.json)" = 0 ] && break
  sleep 1
done
cat queues.json; echo

last_account=$((accounts / 50 * 50 - 50))
last_record=$((records / 50 * 50 - 50))
for path in "/api/v1/accounts?limit=50" "/api/v1/accounts?offset=$last_account&limit=50" \
  "/api/v1/queues/deferred?limit=50" "/api/v1/queues/deferred?offset=$last_record&limit=50"; do
  name=$(echo "$path" | tr -c 'a-z0-9' '_')
  n=$requests
  case "$path" in /api/v1/queues/*) n=$queue_requests ;; esac
  bench api "${target[@]}" --path "$path" --requests 20 --concurrency 1 > /dev/null # warm
  bench api "${target[@]}" --path "$path" --requests "$n" --concurrency 1 \
    --server-pid "$server" | tee "api-c1-$name.txt"
  bench api "${target[@]}" --path "$path" --requests "$n" --concurrency 4 \
    --server-pid "$server" | tee "api-c4-$name.txt"
done

for n in 1 10 50; do
  bench sse "${target[@]}" --dashboards "$n" --seconds "$sse_seconds" \
    --server-pid "$server" | tee "sse-$n.txt"
done
