"""test_delivery_tls.py -- HTTPS receivers: the configured CA, and bad certificates as errors, end
to end (the real hookd delivering to real HTTP(S) receivers on loopback, receiver.py; helpers
and timing rules in delivery.py).
"""
import shutil
import tempfile
import time
import unittest

from harness import pb
import receiver
from delivery import DeliveryCase, node_verify


class Tls(DeliveryCase):
    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="hk-tls-")
        cls.good = receiver.make_cert(cls.certdir, "trusted")
        cls.bad = receiver.make_cert(cls.certdir, "untrusted")
        cls.config = "ca_file = %s\nretry_schedule = 0,1,1\n" % cls.good[0]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certdir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.https = receiver.Receiver(tls=self.good).start()
        self.addCleanup(self.https.stop)
        self.badtls = receiver.Receiver(tls=self.bad).start()
        self.addCleanup(self.badtls.stop)

    def test_https_with_the_configured_ca(self):
        wh = self.hook(url=self.https.url("/secure"))
        self.assertTrue(wh.url.startswith("https://127.0.0.1:"))
        s = self.trigger().results[0]
        self.assertEqual(s.outcome, pb.OUTCOME_SUCCEEDED, s)
        req = self.https.wait_for(1, "/secure", timeout=5)[0]
        rc, out = node_verify(wh.secret_key, req, wh.url, wh.name)
        self.assertEqual(rc, 0, out)

    def test_https_async(self):
        self.hook(url=self.https.url("/secure-async"), asynchronous=True)
        did = self.trigger().queued[0].delivery_id
        self.https.wait_for(1, "/secure-async", timeout=5)
        self.wait_state(did, pb.DELIVERY_STATE_SUCCEEDED)

    def test_bad_tls_sync(self):
        self.hook(url=self.badtls.url("/untrusted"))
        s = self.trigger().results[0]
        self.assertEqual(s.outcome, pb.OUTCOME_NETWORK_ERROR, s)
        self.assertEqual(s.http_status, 0)
        self.assertNotEqual(s.error, "")
        self.assertEqual(self.badtls.got(), [])
        end = time.monotonic() + 2
        while not self.badtls.tls_failures and time.monotonic() < end:
            time.sleep(0.02)
        self.assertTrue(self.badtls.tls_failures, "hookd never tried the TLS handshake")

    def test_bad_tls_recorded_as_attempt_error(self):
        self.hook(url=self.badtls.url("/untrusted"), asynchronous=True)
        did = self.trigger().queued[0].delivery_id
        d = self.wait_delivery(did, lambda d: d.attempt_count >= 1, what="attempt")
        self.assertEqual(d.attempts[0].outcome, pb.OUTCOME_NETWORK_ERROR, d)
        self.assertNotEqual(d.attempts[0].error, "")
        self.assertEqual(self.badtls.got(), [])


if __name__ == "__main__":
    unittest.main()
