#!/bin/bash
# The queue views of docs/benchmarks.md ("Queue views through the API"): a server in DIR
# with 100,000 deferred records (1,000 of them submitted by a user of a domain admin's
# domain), then `ferrymail-bench api` on the admin's first and middle pages (by offset and
# by after=) and on the domain admin's pages, 1 and 4 clients, 200 requests each after 20
# unmeasured. Usage: scripts/bench-api-views.sh DIR (BIN: where ferrymail and
# ferrymail-bench are, default target/release). Everything listens on 127.0.0.1; remote
# mail goes to a smarthost port where nothing listens, so it stays deferred.
set -u
BIN=$(cd "${BIN:-target/release}" && pwd)
D=${1:?usage: scripts/bench-api-views.sh DIR}; mkdir -p "$D"; cd "$D"; rm -rf data serve.log
F=$BIN/ferrymail; B=$BIN/ferrymail-bench; P=bench-admin-password
cat > ferrymail.toml <<EOT
hostname = "bench.test"
data_dir = "data"
[listeners]
submission = "127.0.0.1:36587"
admin = "127.0.0.1:36100"
[smtp]
allow_plaintext_auth = true
max_connections_per_ip = 1000
[delivery]
smarthost = "127.0.0.1:36999"
[auth]
verify = false
[log]
level = "warn"
EOT
c() { $F "$@" --config ferrymail.toml; }
c domain add bench.test; c domain add dom.test
c account add admin@bench.test --password $P --admin
c account add boss@dom.test --password $P
c account add user@dom.test --password $P
c domainadmin add boss@dom.test dom.test
$F serve --config ferrymail.toml > serve.log 2>&1 & S=$!
for i in $(seq 1 100); do curl -sk https://127.0.0.1:36100/health >/dev/null && break; sleep 0.2; done
api() { curl -sk -u "admin@bench.test:$P" "https://127.0.0.1:36100$1"; }
$B smtp --target 127.0.0.1:36587 --auth "admin@bench.test:$P" --from admin@bench.test --to bench@remote.example \
   --connections 8 --size 2048 --messages 49500 --pipelining --server-pid $S | tail -n 12 | tee seed1.txt
$B smtp --target 127.0.0.1:36587 --auth "user@dom.test:$P" --from user@dom.test --to bench@remote.example \
   --connections 8 --size 2048 --messages 1000 --pipelining | tail -n 3
$B smtp --target 127.0.0.1:36587 --auth "admin@bench.test:$P" --from admin@bench.test --to bench@remote.example \
   --connections 8 --size 2048 --messages 49500 --pipelining --server-pid $S | tail -n 12 | tee seed2.txt
for i in $(seq 1 900); do
  api /api/v1/queues > queues.json
  [ "$(jq '[.items[] | select(.name == "remote") | .count] | add' queues.json)" = 0 ] && break
  sleep 1
done
cat queues.json; echo
AFTER=$(api "/api/v1/queues/deferred?offset=49900&limit=50" | jq -r '.next // empty' | sed 's/.*after=\([0-9a-fA-F]*\).*/\1/')
echo "after=$AFTER"
run() { # user path
  $B api --target 127.0.0.1:36100 --tls --user $1 --password $P --path "$2" --requests 20 --concurrency 1 >/dev/null
  for c in 1 4; do
    echo "### $1 $2 c=$c load $(cut -d' ' -f1-3 /proc/loadavg)"
    $B api --target 127.0.0.1:36100 --tls --user $1 --password $P --path "$2" --requests 200 --concurrency $c --server-pid $S | tail -n 12
  done
}
run admin@bench.test "/api/v1/queues/deferred?limit=50"
run admin@bench.test "/api/v1/queues/deferred?offset=49950&limit=50"
run admin@bench.test "/api/v1/queues/deferred?after=$AFTER&limit=50"
run boss@dom.test "/api/v1/queues/deferred?limit=50"
run boss@dom.test "/api/v1/queues/deferred?offset=500&limit=50"
curl -sk -u "boss@dom.test:$P" "https://127.0.0.1:36100/api/v1/queues/deferred?limit=2" | jq -c '{total, n: (.items|length), next}'
kill $S; wait $S
