"""test_delivery_policy.py -- the outbound address policy: denied and metadata addresses are
refused, end to end (the real hookd delivering to real HTTP(S) receivers on loopback,
receiver.py; helpers and timing rules in delivery.py).
"""
import socket
import time
import unittest

from harness import pb
import receiver
from delivery import DeliveryCase


class Policy(DeliveryCase):
    config = "allow_http = false\ndeny_nets = 127.0.0.2/32\nretry_schedule = 0,1,1\n"

    def setUp(self):
        super().setUp()
        self.rx2 = receiver.Receiver(host="127.0.0.2").start()
        self.addCleanup(self.rx2.stop)
        # The network would let hookd in: only its policy stands in the way.
        socket.create_connection(("127.0.0.2", self.rx2.port), timeout=2).close()

    def test_127_0_0_2_is_loopback_for_http_urls(self):
        wh = self.hook(url=self.rx2.url("/x"))
        self.assertEqual(wh.url, self.rx2.url("/x"))

    def test_denied_address_refused_sync(self):
        self.hook(url=self.rx2.url("/denied"))
        ok = self.hook("/allowed")
        r = self.trigger()
        by = {s.webhook_id: s for s in r.results}
        self.assertEqual(by[ok.id].outcome, pb.OUTCOME_SUCCEEDED)
        refused = [s for s in r.results if s.webhook_id != ok.id][0]
        self.assertEqual(refused.outcome, pb.OUTCOME_REFUSED, refused)
        self.assertEqual(refused.http_status, 0)
        self.assertIn("127.0.0.2", refused.error)
        time.sleep(0.3)
        self.assertEqual(self.rx2.got(), [])
        self.assertEqual(self.rx2.conn_count, 1)  # only setUp's own probe

    def test_denied_address_recorded_as_attempt_error(self):
        self.hook(url=self.rx2.url("/denied"), asynchronous=True)
        did = self.trigger().queued[0].delivery_id
        d = self.wait_delivery(did, lambda d: d.attempt_count >= 1, what="attempt")
        self.assertEqual(d.attempts[0].outcome, pb.OUTCOME_REFUSED, d)
        self.assertIn("127.0.0.2", d.attempts[0].error)
        self.assertEqual(self.rx2.got(), [])

    def test_metadata_address_refused_by_default(self):
        self.hook(url="https://169.254.169.254:%d/latest" % self.rx.port, timeout_seconds=2)
        s = self.trigger().results[0]
        self.assertEqual(s.outcome, pb.OUTCOME_REFUSED, s)
        self.assertIn("169.254.169.254", s.error)


if __name__ == "__main__":
    unittest.main()
