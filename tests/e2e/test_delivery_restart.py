"""test_delivery_restart.py -- deliveries survive kill -9 and restarts, end to end (the real hookd
delivering to real HTTP(S) receivers on loopback, receiver.py; helpers and timing rules in
delivery.py).
"""
import concurrent.futures
import json
import time
import unittest

import harness
from harness import pb
import receiver
from delivery import DeliveryCase


class Restart(DeliveryCase):
    config = "retry_schedule = 0,1,1,1,1,1,1,1,1,1\n"

    def restart_after_kill9(self):
        self.assertEqual(self.hookd.kill9(), -9)
        second = harness.Hookd(self.config, base=self.hookd.base)
        self.addCleanup(second.cleanup)
        self.hookd = second
        second.start()
        self.stub = second.stub()

    def test_kill9_right_after_trigger_then_restart_delivers(self):
        port = receiver.ClosedPort()  # nothing listens yet: the first attempt fails
        self.addCleanup(port.release)
        self.hook(url=port.url("/k"), asynchronous=True)
        r = self.trigger(event_id="survives-kill-9")
        did = r.queued[0].delivery_id
        self.restart_after_kill9()
        port.release()
        rx = receiver.Receiver(port=port.port).start()
        self.addCleanup(rx.stop)
        req = rx.wait_for(1, "/k", timeout=15)[0]
        self.assertEqual(req.headers["webhook-id"], "survives-kill-9")
        self.assertEqual(json.loads(req.body)["data"], {"account": {"id": 42}})
        self.wait_state(did, pb.DELIVERY_STATE_SUCCEEDED)

    def test_kill9_after_many_concurrent_triggers(self):
        port = receiver.ClosedPort()
        self.addCleanup(port.release)
        self.hook(url=port.url("/many"), asynchronous=True)
        ids = ["k9-%02d" % i for i in range(20)]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda e: self.trigger(event_id=e), ids))
        self.assertTrue(all(len(a.queued) == 1 for a in answers))
        self.restart_after_kill9()  # the instant the last one answered
        port.release()
        rx = receiver.Receiver(port=port.port).start()
        self.addCleanup(rx.stop)
        end = time.monotonic() + 20
        while {q.headers["webhook-id"] for q in rx.got()} < set(ids):
            self.assertLess(time.monotonic(), end, "lost: %s" % sorted(
                set(ids) - {q.headers["webhook-id"] for q in rx.got()}))
            time.sleep(0.05)


    def test_sigterm_with_an_attempt_on_the_wire_then_restart(self):
        self.rx.answer("/wire", delay=5)
        wh = self.hook("/wire", asynchronous=True)
        did = self.trigger(event_id="on-the-wire").queued[0].delivery_id
        self.rx.wait_for(1, "/wire", timeout=5)
        t0 = time.monotonic()
        self.assertEqual(self.hookd.stop(), 0, self.hookd.read_log())
        self.assertLess(time.monotonic() - t0, 3.0, "SIGTERM waited for the receiver")
        self.rx.answer("/wire", status=200)
        second = harness.Hookd(self.config, base=self.hookd.base)
        self.addCleanup(second.cleanup)
        self.hookd = second
        second.start()
        self.stub = second.stub()
        reqs = self.rx.wait_for(2, "/wire", timeout=10)
        self.assertEqual(reqs[1].headers["webhook-id"], "on-the-wire")
        d = self.wait_state(did, pb.DELIVERY_STATE_SUCCEEDED)
        self.assertEqual(d.webhook_id, wh.id)

    def test_pending_retry_resumes_after_a_clean_restart(self):
        self.rx.answer("/later", status=500)
        self.hook("/later", asynchronous=True)
        did = self.trigger().queued[0].delivery_id
        self.rx.wait_for(1, "/later", timeout=5)
        # The receiver has answered; hookd may not have read the 500 yet (a stop then cuts the
        # attempt and it is not recorded). Stop once the first attempt is stored.
        self.wait_delivery(did, lambda d: d.attempt_count >= 1, what="first attempt recorded")
        self.assertEqual(self.hookd.stop(), 0)
        self.rx.answer("/later", status=200)
        second = harness.Hookd(self.config, base=self.hookd.base)
        self.addCleanup(second.cleanup)
        self.hookd = second
        second.start()
        self.stub = second.stub()
        d = self.wait_state(did, pb.DELIVERY_STATE_SUCCEEDED)
        self.assertEqual(d.attempts[0].http_status, 500)
        self.assertEqual(d.attempts[-1].http_status, 200)

    def test_event_id_remembered_across_kill9(self):
        wh = self.hook("/idk", asynchronous=True)
        first = self.trigger(event_id="kept-across-restart")
        self.restart_after_kill9()
        again = self.trigger(event_id="kept-across-restart")
        self.assertTrue(again.duplicate)
        self.assertEqual(list(again.queued), list(first.queued))
        self.wait_state(first.queued[0].delivery_id, pb.DELIVERY_STATE_SUCCEEDED)
        ds = self.stub.ListDeliveries(pb.ListDeliveriesRequest(webhook_id=wh.id)).deliveries
        self.assertEqual([d.id for d in ds], [first.queued[0].delivery_id])
        # At least once: the attempt may have been on the wire when hookd died.
        reqs = self.rx.wait_for(1, "/idk", timeout=5)
        self.assertEqual({q.headers["webhook-id"] for q in reqs}, {"kept-across-restart"})


if __name__ == "__main__":
    unittest.main()
