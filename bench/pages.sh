#!/usr/bin/env bash
# bench/pages.sh -- pages each LMDB table gets dirtied per accepted event, under the accept load
# bench/durable.sh makes (64 in flight, one async webhook, a receiver that holds connections and
# never answers): snapshots of hookd's data.mdb taken while it runs (SIGSTOP, cp, SIGCONT) are
# read by bench/lmdb_pages.py, which compares each snapshot's last commit with the one before.
# usage: bench/pages.sh [BUILD_DIR] [CALLERS] [INFLIGHT] [SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
callers=${2:-1}
inflight=${3:-64}
samples=${4:-3}
work=$(mktemp -d /tmp/hk-bench-pages-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
/usr/bin/python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(4096); print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)  # holds it, never answers
' >"$work/rx.port" &
pids+=($!)
sleep 0.3
rxport=$(head -1 "$work/rx.port")
HOOKD_BIN=$build/hookd $build/bench/bench_trigger accept --callers "$callers" --inflight "$inflight" \
    --seconds $((samples + 3)) --url "http://127.0.0.1:$rxport/hook" --set max_transfers=16 \
    >"$work/bench.out" &
pids+=($!)
hpid=
for _ in $(seq 100); do
    hpid=$(pgrep -P "${pids[1]}" -x hookd || true)
    [ -n "$hpid" ] && break
    sleep 0.05
done
data=$(tr '\0' '\n' </proc/"$hpid"/cmdline | sed -n '/^--data$/{n;p}')
sleep 2
for i in $(seq "$samples"); do
    kill -STOP "$hpid"
    cp "$data/data.mdb" "$work/snap.mdb"
    kill -CONT "$hpid"
    /usr/bin/python3 bench/lmdb_pages.py "$work/snap.mdb"
    sleep 1
done
wait "${pids[1]}"
cat "$work/bench.out"
