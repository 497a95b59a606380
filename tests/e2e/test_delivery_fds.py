"""test_delivery_fds.py -- hookd short of file descriptors (RLIMIT_NOFILE 64:64, so it cannot raise
its own): deliveries that cannot open a socket are hookd's failure, not the receiver's, and do
not use up the retry schedule; the burst is logged once, not per failure; connections beyond
the limit are shed (closed at once), not left hanging. Real hookd, real receiver on loopback.
"""
import re
import resource
import socket
import subprocess
import time
import unittest

import harness
from harness import pb
import receiver
from delivery import DeliveryCase

NOFILE = 64


class LimitedHookd(harness.Hookd):
    """hookd started with RLIMIT_NOFILE NOFILE:NOFILE (soft and hard: no raising it)."""

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [harness.HOOKD_BIN, "--socket", self.socket, "--data", self.data,
             "--config", self.config_path] + self.args,
            stdout=self.log, stderr=self.log,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE)))
        if wait:
            self.wait_ready()
        return self


class FewFds(DeliveryCase):
    # Two attempts in the schedule: were "no fd" counted, a delivery that met it twice would
    # be FAILED. The per-webhook cap is lifted so that one receiver can ask for far more
    # sockets than hookd has.
    config = "retry_schedule = 0,1\nmax_in_flight_per_webhook = 1000\n"
    # On tmpfs: the one-burst check needs the 150 triggers in faster than a quiet second, and
    # each waits for its commit; with a 700 ms fdatasync stall (seen on these VMs) there were
    # two bursts in 3 of 3 runs.
    base_parent = "/dev/shm"

    def setUp(self):
        self.hookd = LimitedHookd(self.config, self.args, base=self.new_base())
        self.addCleanup(self.hookd.cleanup)
        self.hookd.start()
        self.stub = self.hookd.stub()
        self.rx = receiver.Receiver().start()
        self.addCleanup(self.rx.stop)
        self._names = 0

    def test_limit_is_what_it_was_given(self):
        log = self.hookd.read_log()
        m = re.search(r"event=nofile soft=(\d+) hard=(\d+)", log)
        self.assertTrue(m, log)
        self.assertEqual((int(m.group(1)), int(m.group(2))), (NOFILE, NOFILE))
        self.assertIn("level=warn event=nofile", log)  # short of what the limits ask for

    def test_no_fd_does_not_burn_the_schedule(self):
        # 150 deliveries held 1 s each by the receiver: hookd would need ~150 sockets at once
        # and has about 40 left after its own.
        self.rx.answer("/slow", status=200, delay=1.0)
        self.hook("/slow", asynchronous=True)
        ids = []
        for i in range(150):
            ids += [q.delivery_id for q in self.trigger(payload=b'{"n":%d}' % i).queued]
        self.assertEqual(len(ids), 150)
        # At most 40 a second get through: 4 s of work, with pauses for the waits.
        end = time.monotonic() + 40
        pending = set(ids)
        while pending and time.monotonic() < end:
            for did in list(pending):
                d = self.delivery(did)
                self.assertNotEqual(d.state, pb.DELIVERY_STATE_FAILED, d)
                if d.state == pb.DELIVERY_STATE_SUCCEEDED:
                    pending.discard(did)
            time.sleep(0.2)
        self.assertEqual(pending, set(), "not delivered in time")
        for did in ids:
            d = self.delivery(did)
            self.assertEqual(d.state, pb.DELIVERY_STATE_SUCCEEDED, d)
            self.assertEqual(d.attempt_count, 1, d)  # no attempt was spent on "no fd"
        self.assertEqual(len(self.rx.got("/slow")), 150)
        # A success after a quiet second ends the burst, and says how many failed in it.
        time.sleep(1.1)
        self.hook("/after")
        self.assertEqual(self.trigger().results[0].outcome, pb.OUTCOME_SUCCEEDED)
        log = self.hookd.read_log()
        bursts = re.findall(r"level=warn event=fd_exhausted where=deliver errno=EMFILE", log)
        ends = re.findall(r"event=fd_recovered where=deliver failures=(\d+)", log)
        # Once per burst, not once per failure: one burst, many failures.
        self.assertEqual(len(bursts), 1, log)
        self.assertEqual(len(ends), 1, log)
        self.assertGreater(int(ends[0]), 10, log)
        self.assertNotIn("outcome=network_error", log)

    def test_connections_beyond_the_limit_are_shed(self):
        socks, shed, served = [], 0, 0
        try:
            for _ in range(NOFILE + 16):
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(3)
                s.connect(self.hookd.socket)
                socks.append(s)
            for s in socks:
                # An accepted connection answers the HTTP/2 preface with hookd's SETTINGS
                # (hookd tells HTTP/2 from HTTP/1.1 by it); a shed one is at EOF.
                try:
                    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
                except OSError:
                    shed += 1
                    continue
                try:
                    data = s.recv(64)
                except socket.timeout:
                    self.fail("a connection was left hanging: neither served nor closed")
                if data:
                    served += 1
                else:
                    shed += 1
        finally:
            for s in socks:
                s.close()
        self.assertGreater(served, 0)
        self.assertGreater(shed, 0)
        # Descriptors free again: hookd serves as before.
        time.sleep(0.2)
        self.hookd.close_channel()
        self.stub = self.hookd.stub()
        wh = self.hook("/after")
        self.assertEqual(self.trigger().results[0].outcome, pb.OUTCOME_SUCCEEDED)
        self.assertEqual(len(self.rx.got("/after")), 1)
        self.assertTrue(self.stub.GetWebhook(pb.GetWebhookRequest(id=wh.id)).id, wh.id)


if __name__ == "__main__":
    unittest.main()
