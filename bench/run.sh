#!/usr/bin/env bash
# bench/run.sh -- every hookd benchmark, side by side in one run, against nginx on loopback.
# usage: bench/run.sh [BUILD_DIR]   (default build; run scripts/deps --test first)
# Prints figures; it does not pass or fail on speed. Results go to docs/BENCHMARKS.md by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
export HOOKD_BIN=$build/hookd PYTHONPATH=$build/py
port=18080 conns=16 secs=${BENCH_SECONDS:-5}
url=http://127.0.0.1:$port/hook

work=$(mktemp -d /tmp/hk-bench-nginx-XXXXXX)
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work;
    server {
        listen 127.0.0.1:$port;
        keepalive_requests 1000000;
        location /hook { return 204; }
        location /status { stub_status; }
    }
}
NGINX
nginx -c "$work/nginx.conf"
trap 'nginx -c "$work/nginx.conf" -s stop 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 0.3

echo "== machine: $(nproc) cores, $(uname -r), $(date -u +%F)"
echo
echo "== unary RPC (GetWebhook), one connection"
$build/bench/bench_rpc --seconds "$secs"
echo
echo "== the JSON API beside gRPC (GetWebhook, 8 in flight)"
$build/bench/bench_connect --seconds "$secs"
echo
echo "== delivery rate into nginx (return 204), $conns connections"
printf 'wrk.method="POST"\nwrk.body="{\\"data\\":{}}"\nwrk.headers["Content-Type"]="application/json"\n' >"$work/post.lua"
for t in 2 1; do # -t1: one thread, as hookd delivers from its one loop thread
    printf 'wrk -t%d -c%d POST (ceiling):    ' $t $conns
    wrk -t$t -c$conns -d${secs}s -s "$work/post.lua" "$url" | awk '/Requests\/sec/ {print $2 " requests/s"}'
done
$build/bench/bench_trigger deliver --url "$url" --status-url http://127.0.0.1:$port/status \
    --callers 64 --events 50000 --set max_transfers=$conns
echo
echo "== durable accept rate (async TriggerEvent answered after fsync)"
$build/bench/bench_trigger fsync --seconds "$secs"
for c in 1 16 64; do
    $build/bench/bench_trigger accept --url "$url" --callers $c --seconds "$secs"
done
# The same 64 calls in flight from 8 connections: tells libhookd's cost from hookd's.
$build/bench/bench_trigger accept --url "$url" --callers 8 --inflight 8 --seconds "$secs"
echo
echo "== sync overhead (TriggerEvent to one synchronous webhook at nginx)"
$build/bench/bench_trigger sync --url "$url" --seconds "$secs"
echo
echo "== matching cost (one matching synchronous webhook)"
$build/bench/bench_trigger match --url "$url" --webhooks 10 --seconds "$secs"
$build/bench/bench_trigger match --url "$url" --webhooks 100000 --seconds "$secs"
echo
echo "== the admin page in Chromium, 1,000 webhooks"
node bench/page.js "$build"
