#!/usr/bin/env bash
# bench/durable.sh -- durable accept rate side by side in one run: hookd's async TriggerEvent
# (answered after its commit is on disk) driven by a stock gRPC C++ client (../shared/tools/
# grpc-bench's grpc-load, Debian libgrpc++-dev) at 64 in flight on 1 and on 8 connections, against
# PostgreSQL 15's durable one-row INSERT (pgbench, 64 clients, synchronous_commit=on), the store
# Svix, Convoy and Hook0 acknowledge from. The receiver holds connections without answering so
# delivery does not compete. Also: hookd's bytes written to disk and CPU per event.
# usage: bench/durable.sh [BUILD_DIR...]   (run scripts/deps --test first)
# Several build dirs (e.g. before and after a change) are measured in the same run, against the
# same PostgreSQL figure. GRPC_BENCH_SRC: the grpc-bench kit (default ../shared/tools/grpc-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=(build)
kit=${GRPC_BENCH_SRC:-../shared/tools/grpc-bench}
secs=${BENCH_SECONDS:-10}
work=$(mktemp -d /tmp/hk-bench-durable-XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -d "$work/pg" ] && su postgres -c "/usr/lib/postgresql/15/bin/pg_ctl -D $work/pg -m immediate stop" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

for p in libgrpc++-dev g++ postgresql-15; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$p" >/dev/null
done
cmake -S "$kit" -B "$work/kit" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$work/kit" -j2 >/dev/null
load=$work/kit/grpc-load

payload=$(head -c 241 /dev/zero | tr '\0' 'x')
payload="{\"account\":42,\"note\":\"$payload\",\"ok\":true}" # 275 bytes, as the issue's figure
echo "== machine: $(nproc) cores, $(uname -r), $(date -u +%FT%TZ); payload ${#payload} bytes; ${secs}s each"

# --- PostgreSQL 15: durable one-row INSERT -------------------------------------------------
mkdir -p "$work/pg" "$work/pgsock" && chown postgres "$work/pg" "$work/pgsock"
su postgres -c "/usr/lib/postgresql/15/bin/initdb -D $work/pg -A trust" >/dev/null
su postgres -c "/usr/lib/postgresql/15/bin/pg_ctl -D $work/pg -l $work/pgsock/pg.log -w -o '-k $work/pgsock -c listen_addresses= -c synchronous_commit=on -c fsync=on -c max_connections=100' start" >/dev/null
su postgres -c "psql -qh $work/pgsock -c 'CREATE TABLE events (id bigserial PRIMARY KEY, payload text)' postgres"
echo "INSERT INTO events (payload) VALUES ('$payload');" >"$work/insert.sql"
chmod 644 "$work/insert.sql"
pg=$(su postgres -c "pgbench -h $work/pgsock -n -c 64 -j 2 -T $secs -f $work/insert.sql postgres" 2>&1 |
    awk '/^tps/ {print int($3)}')
echo "PostgreSQL 15 INSERT, 64 clients, synchronous_commit=on:   $pg rows/s"

# --- hookd ---------------------------------------------------------------------------------
trigger() { # trigger action, out file
    printf 'application: APPLICATION_ENTERPRISE trigger_action: "%s" payload: "%s"\n' "$1" \
        "$(printf '%s' "$payload" | sed 's/"/\\"/g')" >"$work/trigger.txt"
    protoc -I proto --encode=hookd.v1.TriggerEventRequest hookd/v1/webhooks.proto <"$work/trigger.txt" >"$2"
}
trigger AccountUpdated "$work/trigger.bin" # matches the one webhook: one delivery per event
trigger AccountDeleted "$work/nomatch.bin" # matches none: nothing to store, an RPC bound
run_hookd() { # build dir, data parent dir, label, trigger request, runs (inflight:channels)...
local build=$1 dparent=$2 label=$3 request=$4
shift 4
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(4096); print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)  # holds it, never answers
' >"$work/rx.port" &
pids+=($!)
sleep 0.3
rxport=$(head -1 "$work/rx.port")
rm -rf "$dparent/data" "$work/hookd.sock"
$build/hookd --socket "$work/hookd.sock" --data "$dparent/data" --log-level warn \
    --set max_transfers=16 >"$work/hookd.log" 2>&1 &
hpid=$!
pids+=($hpid)
for _ in $(seq 100); do [ -S "$work/hookd.sock" ] && break; sleep 0.05; done
cat >"$work/create.txt" <<TXT
name: "durable" application: APPLICATION_ENTERPRISE trigger_action: "AccountUpdated"
url: "http://127.0.0.1:$rxport/hook" asynchronous: true timeout_seconds: 600
TXT
protoc -I proto --encode=hookd.v1.CreateWebhookRequest hookd/v1/webhooks.proto <"$work/create.txt" >"$work/create.bin"
$load --target "unix://$work/hookd.sock" --method /hookd.v1.Webhooks/CreateWebhook \
    --request "$work/create.bin" --inflight 1 --seconds 0.01 --warmup 0 >/dev/null 2>&1 || true

io() { awk -v k="$1" '$1 == k":" {print $2}' /proc/$hpid/io; }
cpu() { awk '{print $14 + $15}' /proc/$hpid/stat; }
idle() { awk '$1 == "cpu" {print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; } # idle+iowait, all
# Syncs: fdatasync calls counted by perf's syscall tracepoint, and group-commit
# batches from /metrics (with LMDB's own sync each batch is one fdatasync of
# the data pages plus one O_DSYNC write of the meta page).
metric() { curl -s --unix-socket "$work/hookd.sock" http://hookd/metrics | awk -v k="$1" '$1 == k {print $2}'; }
batches() { metric hookd_commit_batches_total; }
answered() { metric 'hookd_rpcs_total{service="hookd.v1.Webhooks",method="TriggerEvent",code="OK"}'; }
for run in "$@"; do
    n=${run%:*} ch=${run#*:}
    w0=$(io write_bytes); c0=$(cpu); b0=$(batches); a0=$(answered); i0=$(idle)
    : >"$work/syncs"
    perf_pid=
    if command -v perf >/dev/null; then
        perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p $hpid -o "$work/syncs" &
        perf_pid=$!
    fi
    out=$($load --target "unix://$work/hookd.sock" --method /hookd.v1.Webhooks/TriggerEvent \
        --request "$request" --inflight $n --channels $ch --threads 2 --seconds "$secs" --warmup 1)
    w1=$(io write_bytes); c1=$(cpu); b1=$(batches); a1=$(answered); i1=$(idle)
    [ -z "$perf_pid" ] || { kill -INT $perf_pid; wait $perf_pid 2>/dev/null || true; }
    nsync=$(awk -F, '/sys_enter_f/ {n += $1; seen = 1} END {print seen ? n : "n/a"}' "$work/syncs")
    rate=$(sed -n 's/.* rate=\([0-9.]*\).*/\1/p' <<<"$out" | cut -d. -f1)
    p50=$(sed -n 's/.* p50_us=\([0-9.]*\).*/\1/p' <<<"$out")
    p99=$(sed -n 's/.* p99_us=\([0-9.]*\).*/\1/p' <<<"$out")
    tck=$(getconf CLK_TCK)
    ccpu=$(sed -n 's/.* client_cpu=\([0-9.]*\)%.*/\1/p' <<<"$out") # % of one core over the run
    idle=$(awk -v a="$i0" -v b="$i1" 'BEGIN {split(a, x, " "); split(b, y, " "); printf "%d", 100 * (y[1] - x[1]) / (y[2] - x[2])}')
    # Per event is over every event hookd answered meanwhile (the warmup's too);
    # a build without /metrics is divided by the client's count instead.
    calls=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$out")
    all=$(( ${a1:-0} - ${a0:-0} ))
    [ "$all" -gt 0 ] || all=$(( calls > 0 ? calls : 1 ))
    syncs=$(awk -v s="$nsync" -v n="$all" 'BEGIN {if (s == "n/a") print s; else printf "%.3f", s / n}')
    [ -n "$b1" ] && syncs="$syncs fdatasyncs + $(awk -v a="$b1" -v b="$b0" -v n="$all" 'BEGIN {printf "%.3f", (a - b) / n}') batches"
    printf '%s%s: hookd TriggerEvent, %2d in flight on %d connection(s):  %6s events/s  p50 %7s us  p99 %7s us  %5s bytes written/event  %s per event  %3s us CPU/event  client %s us CPU/call  machine %s%% idle  = %s x PostgreSQL\n' \
        "$build" "$label" $n $ch "$rate" "$p50" "$p99" "$(( (w1 - w0) / all ))" \
        "$syncs" \
        "$(( (c1 - c0) * 1000000 / tck / all ))" \
        "$(awk -v c="$ccpu" -v s="$secs" -v n="$calls" 'BEGIN {printf "%.1f", n ? c / 100 * s * 1e6 / n : 0}')" "$idle" \
        "$(awk -v a="$rate" -v b="$pg" 'BEGIN {printf "%.2f", a / b}')"
done
kill "$hpid"; wait "$hpid" 2>/dev/null || true
}
for b in "${builds[@]}"; do run_hookd "$b" "$work" "" "$work/trigger.bin" 1:1 8:1 64:1 64:8; done

# --- bounds on this machine, last build ----------------------------------------------------
# The same client and machine with the disk's flush taken away (the data directory on tmpfs,
# where fdatasync returns at once), and with no store at all (an event no webhook matches, so
# nothing is written): what the flush costs, and what the RPC path alone allows.
b=${builds[-1]}
shm=$(mktemp -d /dev/shm/hk-bench-XXXXXX)
run_hookd "$b" "$shm" " on tmpfs (no flush)" "$work/trigger.bin" 64:1 64:8
rm -rf "$shm"
run_hookd "$b" "$work" " matching no webhook (nothing stored)" "$work/nomatch.bin" 64:1 64:8
