"""workload.py -- runs the real hookd under the crash shim, then has crash_replay check its crash states.

Usage: workload.py [--events N] [--states N] [--seed S] [--expect-fail] [--keep DIR] [--save DIR]
                   [--fixture DIR]

Environment (set by CTest or scripts/crash-test): HOOKD_BIN, HK_CRASH_SHIM (the
LD_PRELOAD library), HK_CRASH_REPLAY (the checker), HK_CRASH_MIGRATE (with
--fixture: migrate.c), PYTHONPATH with the generated stubs and tests/e2e
(harness.py, receiver.py).

What it does: hookd starts on a fresh data dir with the shim preloaded, an
asynchronous webhook points at a receiver that answers 500 after 200 ms
(deliveries fail, retry once a second later, end FAILED and are pruned after
a second: attempt results and pruning are writes nobody waits for), and a
synchronous one at a receiver that answers 200. Four threads fire N
asynchronous TriggerEvents with their own event ids, 64 in flight in all;
meanwhile webhooks are created, updated and deleted and synchronous events
fired. For every TriggerEvent answered OK the log's record count at the
moment the answer arrived is written to the acks file: that event must be
in every crash state cut at or after that record. hookd is killed with
SIGKILL once the background work had a few seconds, then crash_replay
builds and checks the states (replay.c describes the crash model).

--fixture DIR (crash.migrate): the data directory starts instead as a copy
of the store in DIR (data.mdb and secret.key), e.g. tests/fixtures/store-v1,
which an older release wrote. Under the shim, crash_migrate (HK_CRASH_MIGRATE,
migrate.c) migrates half of it, two records a transaction, and stops, as a
stop part way would; hookd then carries the migration on at its open and runs
the workload. crash_replay gets the copy as every state's base (--base), and
the event ids DIR's expected.json has as caller-chosen ones are acknowledged
before the first record: each must be found in every state, before, during
and after the migration. Every cut before hookd served (the migration and
hookd's open) is explored, as the first start is.

Limits: the shim sees write calls only. Writes through a mapping
(MDB_WRITEMAP, or any mmap'ed file) are invisible to it, so a store opened
with MDB_WRITEMAP would look as if it never wrote; the test then proves
nothing (crash_replay fails when it sees no write at all). Directory
operations are taken as durable at once.

HK_CRASH_EXPECT_FAIL (CMake option, OFF; passes --expect-fail): the test then
asserts that at least one state after the first start fails. It is for
builds of the design before the writer thread (058e45f and older: MDB_NOSYNC,
synced later on the threadpool), to show the checker sees that bug; off, the
test asserts that no state fails.
"""
import argparse
import json
import mmap
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

import grpc

import harness
import receiver
from harness import pb

CONFIG = "retry_schedule = 0,1\nlog_max_age = 1\n"
# With a fixture: its event ids, recorded on the day it was made, must outlive any CI date.
FIXTURE_CONFIG = CONFIG + "idempotency_window = 4000000000\n"
STORE_FILES = ("data.mdb", "secret.key")
MIGRATE_TXNS = 9  # of the fixture's 18 at two records each: hookd does the rest


class Counter:
    """The shim's record count, read through a shared mapping of <log>.count."""

    def __init__(self, path):
        self.path = path
        self.mm = None

    def get(self):
        if self.mm is None:
            with open(self.path, "rb") as f:
                self.mm = mmap.mmap(f.fileno(), 8, prot=mmap.PROT_READ)
        return struct.unpack_from("=Q", self.mm, 0)[0]


def fire_events(stub, counter, ids, in_flight, acks, errors, lock):
    """Keeps in_flight TriggerEvents going until every id in ids was sent."""
    sem = threading.Semaphore(in_flight)
    done = threading.Event()
    left = [len(ids)]

    def finished(fut, event_id):
        try:
            fut.result()
            seq = counter.get()  # the answer is here: everything it needed was logged by now
            with lock:
                acks.append((event_id, seq))
        except grpc.RpcError as e:
            with lock:
                errors.append("%s: %s %s" % (event_id, e.code(), e.details()))
        sem.release()
        with lock:
            left[0] -= 1
            if left[0] == 0:
                done.set()

    for event_id in ids:
        sem.acquire()
        req = pb.TriggerEventRequest(application=pb.APPLICATION_ENTERPRISE,
                                     trigger_action="AccountUpdated", origin=pb.ORIGIN_USER,
                                     payload=b'{"account":{"id":%d}}' % len(event_id),
                                     event_id=event_id)
        fut = stub.TriggerEvent.future(req, timeout=60)
        fut.add_done_callback(lambda f, i=event_id: finished(f, i))
    done.wait(120)


def background(stub, stop, counts):
    """Webhook CRUD and synchronous events until stop is set."""
    n = 0
    while not stop.is_set():
        n += 1
        try:
            wh = stub.CreateWebhook(pb.CreateWebhookRequest(
                name="crud %d" % n, application=pb.APPLICATION_ENTERPRISE,
                trigger_action="AccountCreated", url=counts["url"] + "/crud", asynchronous=True))
            stub.UpdateWebhook(pb.UpdateWebhookRequest(id=wh.id, new_name="crud %d renamed" % n,
                                                       active=n % 2 == 0))
            stub.TriggerEvent(pb.TriggerEventRequest(
                application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountCreated",
                origin=pb.ORIGIN_USER, payload=b'{"n":%d}' % n), timeout=30)
            if n % 3:
                stub.DeleteWebhook(pb.DeleteWebhookRequest(id=wh.id))
            counts["crud"] += 1
        except grpc.RpcError as e:
            counts["errors"].append("crud %d: %s %s" % (n, e.code(), e.details()))
        time.sleep(0.02)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=400)
    ap.add_argument("--states", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--expect-fail", action="store_true")
    ap.add_argument("--keep", help="copy the first failing states here")
    ap.add_argument("--save", help="copy the log and the acks here (crash_replay can rerun on them)")
    ap.add_argument("--fixture", help="start on a copy of the store in this directory")
    args = ap.parse_args()

    shim, replay = os.environ["HK_CRASH_SHIM"], os.environ["HK_CRASH_REPLAY"]
    base = os.path.realpath(tempfile.mkdtemp(prefix="hk-crash-"))
    log_path = os.path.join(base, "ops.log")
    hookd = harness.Hookd(FIXTURE_CONFIG if args.fixture else CONFIG, base=base)
    acks, start_acks, base_dir = [], [], None
    if args.fixture:
        base_dir = os.path.join(base, "base")
        os.makedirs(base_dir)
        os.makedirs(hookd.data, mode=0o700)
        for name in STORE_FILES:
            for to in (base_dir, hookd.data):
                shutil.copy(os.path.join(args.fixture, name), os.path.join(to, name))
                os.chmod(os.path.join(to, name), 0o600)
        with open(os.path.join(args.fixture, "expected.json")) as f:
            ids = {d["event_id"] for d in json.load(f)["deliveries"]}
        start_acks = [(i, 0) for i in sorted(ids) if not i.startswith("evt_")]  # made-up ids aren't kept
    rx = receiver.Receiver().start()
    try:
        rx.answer("/slow", status=500, delay=0.2)
        rx.answer("/sync", status=200)
        rx.answer("/crud", status=200)
        env = {"LD_PRELOAD": shim, "HK_CRASH_DIR": hookd.data, "HK_CRASH_LOG": log_path,
               # an ASan hookd wants its runtime first; the shim comes first
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
        if args.fixture:
            # The first half of the migration, two records a transaction, under the shim.
            run = subprocess.run([os.environ["HK_CRASH_MIGRATE"], hookd.data, "2", str(MIGRATE_TXNS)],
                                 env=dict(os.environ, **env), capture_output=True, text=True)
            if run.returncode != 0 or "event=store_migrate_paused" not in run.stderr:
                print("FAIL: crash_migrate did not stop part way (exit %d):\n%s" %
                      (run.returncode, run.stderr[-3000:]))
                return 1
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            hookd.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        counter = Counter(log_path + ".count")
        served = counter.get()  # hookd serves once its store is open (and migrated)
        stub = hookd.stub()
        stub.CreateWebhook(pb.CreateWebhookRequest(
            name="crash async", application=pb.APPLICATION_ENTERPRISE,
            trigger_action="AccountUpdated", url=rx.url("/slow"), asynchronous=True))
        stub.CreateWebhook(pb.CreateWebhookRequest(
            name="crash sync", application=pb.APPLICATION_ENTERPRISE,
            trigger_action="AccountCreated", url=rx.url("/sync")))

        errors, lock = [], threading.Lock()
        stop = threading.Event()
        counts = {"crud": 0, "errors": [], "url": rx.url("")}
        bg = threading.Thread(target=background, args=(stub, stop, counts))
        bg.start()
        threads = []
        per = (args.events + 3) // 4
        for t in range(4):
            ids = ["crash-%d-%d" % (t, i) for i in range(per) if t * per + i < args.events]
            th = threading.Thread(target=fire_events,
                                  args=(stub, counter, ids, 16, acks, errors, lock))
            th.start()
            threads.append(th)
        for th in threads:
            th.join()
        time.sleep(3.5)  # retries (1 s), FAILED deliveries pruned (1 s), lazy syncs
        stop.set()
        bg.join()
        seq_at_kill = counter.get()
        hookd.kill9()

        print("workload: %d events answered OK of %d, %d errors; %d CRUD rounds (%d errors); "
              "%d log records at the kill" % (len(acks), args.events, len(errors), counts["crud"],
                                               len(counts["errors"]), seq_at_kill))
        if args.fixture:
            log = hookd.read_log()
            if "event=store_migrated" not in log:
                print("FAIL: hookd did not migrate the fixture")
                print(log[-3000:])
                return 1
            print("fixture: %s half migrated by crash_migrate, the rest by hookd's start; %d of "
                  "its event ids acknowledged from the first record" % (args.fixture, len(start_acks)))
        for e in (errors + counts["errors"])[:5]:
            print("  error:", e)
        if len(acks) < args.events * 9 // 10 or counts["crud"] == 0:
            print("FAIL: the workload did not run (too few events answered)")
            print(hookd.read_log()[-3000:])
            return 1
        acks_path = os.path.join(base, "acks")
        with open(acks_path, "w") as f:
            for event_id, seq in start_acks + acks:
                f.write("%s %d\n" % (event_id, seq))
        if args.save:
            os.makedirs(args.save, exist_ok=True)
            shutil.copy(log_path, args.save)
            shutil.copy(acks_path, args.save)
            if base_dir:
                shutil.copytree(base_dir, os.path.join(args.save, "base"), dirs_exist_ok=True)
        cmd = [replay, "--log", log_path, "--acks", acks_path, "--states", str(args.states),
               "--seed", str(args.seed)]
        if args.expect_fail:
            cmd.append("--expect-fail")
        if base_dir:
            cmd += ["--base", base_dir]
        cmd += ["--start", str(served)]
        if args.keep:
            cmd += ["--keep", args.keep]
        sys.stdout.flush()
        return subprocess.call(cmd)
    finally:
        rx.stop()
        hookd.cleanup()


if __name__ == "__main__":
    sys.exit(main())
