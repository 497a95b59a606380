"""test_store_full.py -- a full store heals and a bad record does not stop hookd, end to end:
an 8 MiB map filled with 16 KB events (the audit's figures), admin writes and deletes on a full
store, pruning by bytes, a disk that fails writes, syncs or the meta page's write (an LD_PRELOAD
shim, diskfault.c, built here), a corrupt pending record at start.
"""
import itertools
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

import harness
from harness import pb
from delivery import DeliveryCase
from test_metrics import UnixHTTPConnection, parse as parse_metrics, value as metric_value

HERE = os.path.dirname(os.path.abspath(__file__))
MAP = 8 << 20
EVENT = b'{"blob":"' + b"x" * (16 * 1024 - 11) + b'"}'  # a 16 KB event
CLOSED_PORT_URL = "http://127.0.0.1:9/never"          # discard: nobody listens, refused at once


def fill_until_refused(case, limit=2000, **kw):
    """Triggers 16 KB events until one is refused; returns (accepted, the RpcError)."""
    for i in range(limit):
        try:
            case.trigger(EVENT, **kw)
        except grpc.RpcError as e:
            return i, e
    case.fail("%d 16 KB events in an 8 MiB map and none refused" % limit)


class FullOfPending(DeliveryCase):
    # One attempt at once, then an hour: the deliveries stay PENDING (never pruned).
    config = "store_map_bytes = %d\nretry_schedule = 0,3600\nallow_http = true\n" % MAP

    def test_full_store_refuses_triggers_says_why_and_heals_after_delete(self):
        stuck = self.hook("/x", url=CLOSED_PORT_URL, asynchronous=True)
        accepted, err = fill_until_refused(self)
        sys.stderr.write("accepted %d x 16 KB events, then: %s\n" % (accepted, err.details()))
        # 80 % of the map, not all of it: the audit filled it whole after 493.
        self.assertGreater(accepted, 250)
        self.assertLess(accepted, 440)
        self.assertEqual(err.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, err.details())
        self.assertIn("the delivery store is full (", err.details())
        self.assertIn(" of 8.0 MiB): ", err.details())
        self.assertIn("pending", err.details())
        # Waiting does not help (nothing may be pruned), and says so again.
        time.sleep(1.0)
        e = self.assertStatus(grpc.StatusCode.RESOURCE_EXHAUSTED, self.trigger, EVENT)
        self.assertIn("the delivery store is full (", e.details())

        # Admin writes keep their reserve while triggers are refused.
        other = self.hook("/ok", asynchronous=True, active=False)
        self.stub.UpdateWebhook(pb.UpdateWebhookRequest(id=other.id, active=True), timeout=10)
        self.assertEqual(len(self.stub.ListWebhooks(pb.ListWebhooksRequest()).webhooks), 2)
        listed = self.stub.ListDeliveries(pb.ListDeliveriesRequest(page_size=10), timeout=10)
        self.assertEqual(len(listed.deliveries), 10)

        # A delete always succeeds on a full store: it cancels the stuck deliveries...
        self.stub.DeleteWebhook(pb.DeleteWebhookRequest(id=stuck.id), timeout=10)
        # ...which, finished now, are pruned to make room: triggers are accepted again
        # within a bounded time (the writer prunes ahead of every batch).
        self.rx.answer("/ok", status=204)
        # 20 s: once, in a CI run beside the browser suites, 47 of 100 got in within 10 s;
        # not seen again in 30 runs, alone or beside busy loops. A store that does not heal
        # misses any bound; on a miss the last refusal and the store's log lines say why.
        end = time.monotonic() + 20.0
        ok, last = 0, None
        while ok < 100 and time.monotonic() < end:
            try:
                self.trigger(EVENT)
                ok += 1
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, e.details())
                last = e.details()
                time.sleep(0.05)
        store_lines = [l for l in self.hookd.read_log().splitlines() if "event=store_" in l]
        self.assertEqual(ok, 100, "triggers accepted again after the delete within 20 s; last "
                         "refusal: %s; store log:\n%s" % (last, "\n".join(store_lines[-20:])))
        self.assertNotIn("level=error event=store_batch_failed", self.hookd.read_log())


class FinishedArePruned(DeliveryCase):
    config = "store_map_bytes = %d\nretry_schedule = 0,1\n" % MAP

    def test_a_stream_of_events_never_fills_the_store(self):
        self.rx.answer("/a", status=204)
        self.hook("/a", asynchronous=True)
        # 1,000 x 16 KB = 16 MB through an 8 MiB map, each delivered: the oldest
        # finished ones go to make room. A refusal may happen while deliveries lag
        # (pending ones are kept); each is retried, and every event gets in.
        refused, t0 = 0, time.monotonic()
        for i in range(1000):
            for _ in range(200):
                try:
                    self.trigger(EVENT, event_id="e-%d" % i)
                    break
                except grpc.RpcError as e:
                    self.assertEqual(e.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, e.details())
                    refused += 1
                    time.sleep(0.05)
            else:
                self.fail("event %d refused for 10 s" % i)
        self.assertLess(time.monotonic() - t0, 120)
        self.rx.wait_for(1000, path="/a", timeout=60)
        n = len(self.stub.ListDeliveries(pb.ListDeliveriesRequest(page_size=1000)).deliveries)
        self.assertLess(n, 500)  # pruned by bytes: 30 days and 100,000 would keep all
        self.assertIn("event=store_open", self.hookd.read_log())


def build_shim(out_dir):
    so = os.path.join(out_dir, "diskfault.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", so, os.path.join(HERE, "diskfault.c"),
                    "-ldl"], check=True)
    return so


class DiskFaults(DeliveryCase):
    """The disk fails writes (ENOSPC, EIO) or syncs: the callers are told so, never OK, and
    hookd goes on once the disk is back. A failed write of the meta page ends hookd (exit 1):
    LMDB gives the environment up, and a restart opens it again."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hk-fault-")
        self.ctl = os.path.join(self.tmp, "fault")
        so = build_shim(self.tmp)
        saved = {k: os.environ.get(k) for k in ("LD_PRELOAD", "HK_DISKFAULT", "ASAN_OPTIONS")}
        os.environ["LD_PRELOAD"] = so
        os.environ["HK_DISKFAULT"] = self.ctl
        # An ASan hookd must not insist on its runtime coming first.
        asan = os.environ.get("ASAN_OPTIONS", "")
        os.environ["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "verify_asan_link_order=0"
        try:
            super().setUp()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def kept(self):
        c = UnixHTTPConnection(self.hookd.socket)
        try:
            c.request("GET", "/metrics")
            m = parse_metrics(c.getresponse().read().decode())
        finally:
            c.close()
        return metric_value(m, "hookd_store_writes_kept")

    def event_ids(self):
        return {d.event_id for d in self.stub.ListDeliveries(pb.ListDeliveriesRequest()).deliveries}

    def set_fault(self, text):
        with open(self.ctl + ".tmp", "w") as f:
            f.write(text)
        os.rename(self.ctl + ".tmp", self.ctl)

    def test_full_and_failing_disk(self):
        self.rx.answer("/a", status=204)
        self.hook("/a", asynchronous=True)
        self.trigger(event_id="before")

        self.set_fault("28 write")  # ENOSPC
        e = self.assertStatus(grpc.StatusCode.RESOURCE_EXHAUSTED, self.trigger, event_id="nospc")
        self.assertIn("the disk holding the store is full", e.details())
        e = self.assertStatus(grpc.StatusCode.RESOURCE_EXHAUSTED, self.hook, "/b")
        self.assertIn("the disk holding the store is full", e.details())

        self.set_fault("5 write")  # EIO
        e = self.assertStatus(grpc.StatusCode.UNAVAILABLE, self.trigger, event_id="eio")
        self.assertIn("failed a write or a sync (I/O error)", e.details())
        self.assertNotIn("input/output error", e.details())

        self.set_fault("5 sync")  # the data written, its sync failed: fatal to the batch
        e = self.assertStatus(grpc.StatusCode.UNAVAILABLE, self.trigger, event_id="sync")
        self.assertIn("failed a write or a sync", e.details())

        os.unlink(self.ctl)
        self.trigger(event_id="after")
        self.hook("/c")
        log = self.hookd.read_log()
        self.assertIn("event=store_batch_failed", log)
        self.assertIn("errno=28", log)
        self.assertIn("errno=5", log)
        # Nothing refused was written; what was answered OK is there.
        self.rx.wait_for(2, path="/a", timeout=15)
        self.assertEqual(self.event_ids(), {"before", "after"})

    def test_results_the_failing_disk_refused_are_kept_and_written_later(self):
        self.rx.answer("/slow", status=204, delay=1.0)
        self.hook("/slow", asynchronous=True)
        ids = [self.trigger(event_id="k-%d" % i).queued[0].delivery_id for i in range(5)]
        self.rx.wait_for(5, path="/slow", timeout=15)  # every attempt in flight
        self.set_fault("28 write")
        end = time.monotonic() + 15  # the answers come; writing their results fails
        refused = r"event=store_write(s_kept .*attempt_record=|_failed op=attempt_record)"
        while not re.search(refused, self.hookd.read_log()):
            self.assertLess(time.monotonic(), end, "no result refused:\n" + self.hookd.read_log())
            time.sleep(0.05)
        self.assertGreater(self.kept(), 0)  # /metrics tells
        os.unlink(self.ctl)  # the disk is back: the kept results are written, not lost
        for did in ids:
            d = self.wait_state(did, pb.DELIVERY_STATE_SUCCEEDED, timeout=40)
            self.assertEqual([a.http_status for a in d.attempts], [204])
        self.assertEqual(len(self.rx.wait_for(5, path="/slow")), 5)  # none sent twice
        self.assertEqual(self.kept(), 0)

    def test_a_synchronous_delivery_logged_while_the_disk_fails_is_logged_later(self):
        self.rx.answer("/sync", status=200, body=b"ok")
        self.hook("/sync")
        self.set_fault("28 write")
        r = self.trigger(event_id="s-1")  # the answer is the results: it does not wait for the log
        self.assertEqual([x.http_status for x in r.results], [200])
        os.unlink(self.ctl)
        end = time.monotonic() + 40  # kept, and written once the disk takes writes again
        while True:
            try:
                d = self.delivery(r.results[0].delivery_id)
                break
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND, e.details())
                self.assertLess(time.monotonic(), end, "the logged delivery never came")
                time.sleep(0.05)
        self.assertEqual(d.state, pb.DELIVERY_STATE_SUCCEEDED)
        self.assertEqual([a.http_status for a in d.attempts], [200])
        self.assertEqual(self.event_ids(), {"s-1"})

    def test_a_flapping_disk_loses_no_event_and_strands_no_delivery(self):
        # 10 s of a disk that fails writes and syncs on and off, under async and sync triggers
        # and webhook churn: every call answered OK is delivered, every refusal names the disk.
        self.rx.answer("/a", status=204, delay=0.05)
        self.rx.answer("/s", status=200)
        self.hook("/a", asynchronous=True)
        self.hook("/s", trigger_action="AccountCreated")
        stop = time.monotonic() + 10
        answered, refusals, lock = set(), [], threading.Lock()

        def call(fn, ok=None):
            time.sleep(0.005)  # a steady load, not all the machine: other tests run beside
            try:
                fn()
                if ok:
                    with lock:
                        answered.add(ok)
            except grpc.RpcError as e:
                with lock:
                    refusals.append((e.code(), e.details()))

        def async_events(k):
            for i in itertools.count():
                if time.monotonic() > stop:
                    return
                call(lambda: self.trigger(event_id="a%d-%d" % (k, i)), ok="a%d-%d" % (k, i))

        def sync_events():
            for i in itertools.count():
                if time.monotonic() > stop:
                    return
                call(lambda: self.trigger(trigger_action="AccountCreated", event_id="s%d" % i))

        def churn():
            for i in itertools.count():
                if time.monotonic() > stop:
                    return
                call(lambda: self.stub.DeleteWebhook(pb.DeleteWebhookRequest(
                    id=self.hook("/x", trigger_action="AccountDeleted").id)))

        workers = [threading.Thread(target=async_events, args=(k,)) for k in range(4)]
        workers += [threading.Thread(target=sync_events), threading.Thread(target=churn)]
        for w in workers:
            w.start()
        rnd = random.Random(1)
        while time.monotonic() < stop:
            fault = rnd.choice(["28 write", "5 write", "5 sync", None, None])
            if fault:
                self.set_fault(fault)
            elif os.path.exists(self.ctl):
                os.unlink(self.ctl)
            time.sleep(rnd.uniform(0.05, 0.4))
        for w in workers:
            w.join()
        if os.path.exists(self.ctl):
            os.unlink(self.ctl)

        self.assertGreater(len(answered), 0)
        self.assertGreater(len(refusals), 0)  # the faults were seen
        for code, details in refusals:
            self.assertIn(code, (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE),
                          details)
            self.assertIn("the disk holding the store", details)
        end = time.monotonic() + 30
        while True:
            got = {r.headers.get("webhook-id") for r in self.rx.requests if r.path == "/a"}
            pending = self.stub.ListDeliveries(pb.ListDeliveriesRequest(
                state=pb.DELIVERY_STATE_PENDING, page_size=1000)).deliveries
            if answered <= got and not pending:
                break
            self.assertLess(time.monotonic(), end, "%d answered OK never came, %d still pending"
                            % (len(answered - got), len(pending)))
            time.sleep(0.2)
        self.assertNotIn("event=store_write_failed", self.hookd.read_log())  # none given up
        self.assertEqual(self.kept(), 0)

    def test_a_failed_meta_page_write_stops_hookd_for_a_restart(self):
        # After it LMDB gives the environment up: every txn fails until it is opened again.
        self.rx.answer("/a", status=204)
        self.hook("/a", asynchronous=True)
        first = self.trigger(event_id="before").queued[0].delivery_id
        self.wait_state(first, pb.DELIVERY_STATE_SUCCEEDED)  # nothing left to write meanwhile

        self.set_fault("5 meta")
        e = self.assertStatus(grpc.StatusCode.UNAVAILABLE, self.trigger, event_id="lost")
        self.assertIn("failed a write or a sync", e.details())
        try:
            self.hookd.proc.wait(30)  # on its own, not left answering UNAVAILABLE forever
        except subprocess.TimeoutExpired:
            self.fail("hookd goes on with a store LMDB gave up:\n" + self.hookd.read_log())
        self.assertEqual(self.hookd.stop(), 1)  # non-zero: systemd's Restart=on-failure
        log = self.hookd.read_log()
        self.assertIn("event=store_lost ", log)
        self.assertIn("event=store_lost_exiting", log)

        os.unlink(self.ctl)  # the disk is back; a restart opens the last synced commit
        self.hookd.start()
        self.stub = self.hookd.stub()
        self.trigger(event_id="after")
        self.rx.wait_for(2, path="/a", timeout=15)
        self.assertEqual(self.event_ids(), {"before", "after"})

    def test_a_store_lost_while_stopping_still_exits_1(self):
        self.rx.answer("/slow", status=204, delay=10)
        self.hook("/slow", asynchronous=True)
        self.trigger(event_id="slow")
        self.rx.wait_for(1, path="/slow", timeout=15)  # its attempt is in flight
        self.set_fault("5 meta")
        # SIGTERM cancels the attempt and puts its delivery back as due: a write in the last
        # batches, whose meta page write fails.
        self.assertEqual(self.hookd.stop(), 1, self.hookd.read_log())
        self.assertIn("event=store_lost_exiting", self.hookd.read_log())
        os.unlink(self.ctl)
        self.rx.answer("/slow", status=204)
        self.hookd.start()
        self.stub = self.hookd.stub()
        self.rx.wait_for(2, path="/slow", timeout=15)  # still pending: delivered after the restart


class FullFileSystem(unittest.TestCase):
    """A file system that really fills (a 4 MiB tmpfs; the tests run as root). LMDB reports the
    commit's short write as EIO; hookd answers RESOURCE_EXHAUSTED naming the disk, not
    UNAVAILABLE "I/O error", and goes on once there is room again."""

    def test_a_full_file_system_is_named_and_heals(self):
        mnt = tempfile.mkdtemp(prefix="hk-tmpfs-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], check=True)
        self.addCleanup(os.rmdir, mnt)
        self.addCleanup(subprocess.run, ["umount", mnt], check=True)
        h = harness.Hookd("retry_schedule = 0,3600\nallow_http = true\n")
        h.data = os.path.join(mnt, "data")
        self.addCleanup(h.cleanup)
        h.start()
        stub = h.stub()
        stub.CreateWebhook(pb.CreateWebhookRequest(
            name="stuck", application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
            url=CLOSED_PORT_URL, asynchronous=True))  # its deliveries stay pending

        filler = os.path.join(mnt, "filler")  # most of the disk, taken by somebody else
        with open(filler, "wb") as f:
            f.write(b"\0" * (3 << 20))

        def trigger(event_id):
            return stub.TriggerEvent(pb.TriggerEventRequest(
                application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
                payload=EVENT, event_id=event_id), timeout=10)
        accepted = []
        for i in range(200):
            try:
                trigger("f-%d" % i)
                accepted.append("f-%d" % i)
            except grpc.RpcError as e:
                refused = e
                break
        else:
            self.fail("200 x 16 KB events into 1 MiB of free disk and none refused")
        self.assertGreater(len(accepted), 0)
        self.assertEqual(refused.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, refused.details())
        self.assertIn("the disk holding the store is full", refused.details())

        os.unlink(filler)  # room again: the next write goes through
        trigger("after")
        ids = {d.event_id for d in stub.ListDeliveries(pb.ListDeliveriesRequest(
            page_size=1000)).deliveries}
        self.assertEqual(ids, set(accepted) | {"after"})  # nothing refused was kept
        h.close_channel()
        self.assertEqual(h.stop(), 0)
        self.assertIn("event=store_disk_full", h.read_log())


class CorruptPendingRecord(unittest.TestCase):
    def test_hookd_starts_serves_and_sets_it_aside(self):
        h = harness.Hookd("retry_schedule = 0,3600\nallow_http = true\n")
        self.addCleanup(h.cleanup)
        h.start()
        stub = h.stub()
        stub.CreateWebhook(pb.CreateWebhookRequest(
            name="stuck", application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
            url=CLOSED_PORT_URL, asynchronous=True))
        ids = []
        for i in range(3):
            r = stub.TriggerEvent(pb.TriggerEventRequest(
                application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
                payload=b'{"n":%d}' % i, event_id="c-%d" % i), timeout=10)
            ids.append(r.queued[0].delivery_id)
        h.close_channel()
        self.assertEqual(h.stop(), 0)

        # Behind hookd's back: the middle record no longer decodes.
        dump = ("VERSION=3\nformat=bytevalue\ntype=btree\nmapsize=%d\nHEADER=END\n %016x\n"
                " 01ffffffff0f\nDATA=END\n" % (1 << 30, ids[1]))
        subprocess.run(["mdb_load", "-s", "deliveries", h.data], input=dump.encode(), check=True)

        h.start()  # it starts...
        stub = h.stub()
        listed = stub.ListDeliveries(pb.ListDeliveriesRequest(), timeout=10).deliveries
        self.assertEqual(sorted(d.id for d in listed), [ids[0], ids[2]])  # ...and serves
        with self.assertRaises(grpc.RpcError) as cm:
            stub.GetDelivery(pb.GetDeliveryRequest(id=ids[1]), timeout=10)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(len(stub.ListDeliveries(pb.ListDeliveriesRequest(
            state=pb.DELIVERY_STATE_PENDING), timeout=10).deliveries), 2)
        stub.TriggerEvent(pb.TriggerEventRequest(
            application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
            payload=b"{}", event_id="after"), timeout=10)
        h.close_channel()
        self.assertEqual(h.stop(), 0)
        self.assertIn("event=store_quarantined", h.read_log())  # logged when set aside...
        h.start()
        h.close_channel()
        self.assertEqual(h.stop(), 0)
        log = h.read_log()
        self.assertIn("quarantined=1", log)  # ...and counted at the next start
        self.assertIn("event=store_quarantine records=1", log)


if __name__ == "__main__":
    unittest.main()
