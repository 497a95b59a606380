"""test_delivery_refused.py -- a policy refusal is final: the asynchronous delivery fails after
its one attempt instead of running the retry schedule, and a refused synchronous attempt is
logged as an asynchronous one is (the real hookd, real receivers on loopback; delivery.py).
"""
import re
import socket
import time
import unittest

from harness import pb
import receiver
from delivery import DeliveryCase


def attempt_lines(log):
    """The key=value fields of every "attempt" log line."""
    out = []
    for line in log.splitlines():
        if " event=attempt " not in line:
            continue
        out.append(dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line)))
    return out


class Refused(DeliveryCase):
    # Three attempts a second apart if a refusal were retried like a failure.
    config = "deny_nets = 127.0.0.2/32\nretry_schedule = 0,1,1\n"

    def setUp(self):
        super().setUp()
        self.rx2 = receiver.Receiver(host="127.0.0.2").start()
        self.addCleanup(self.rx2.stop)
        # The network would let hookd in: only its policy stands in the way.
        socket.create_connection(("127.0.0.2", self.rx2.port), timeout=2).close()

    def test_async_refusal_fails_at_once(self):
        wh = self.hook(url=self.rx2.url("/denied"), asynchronous=True)
        ok = self.hook("/allowed", asynchronous=True)
        queued = {q.webhook_id: q.delivery_id for q in self.trigger().queued}
        d = self.wait_state(queued[wh.id], pb.DELIVERY_STATE_FAILED)
        self.assertEqual(d.attempt_count, 1, d)
        self.assertEqual(d.attempts[0].outcome, pb.OUTCOME_REFUSED, d)
        self.assertIn("127.0.0.2", d.attempts[0].error)
        self.wait_state(queued[ok.id], pb.DELIVERY_STATE_SUCCEEDED)
        # Past the whole schedule (1 s + 1 s, +20 %): no second attempt came.
        time.sleep(2.6)
        d = self.delivery(queued[wh.id])
        self.assertEqual(d.state, pb.DELIVERY_STATE_FAILED)
        self.assertEqual(d.attempt_count, 1, d)
        self.assertEqual(self.rx2.got(), [])
        lines = [a for a in attempt_lines(self.hookd.read_log())
                 if a.get("delivery") == str(queued[wh.id])]
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(lines[0]["outcome"], "refused")
        self.assertEqual(lines[0]["next_in_ms"], "-1")
        self.assertIn("level=warn event=attempt delivery=%d " % queued[wh.id],
                      self.hookd.read_log())

    def test_sync_refusal_logged_as_async_is(self):
        sync = self.hook(url=self.rx2.url("/denied-sync"))
        asyn = self.hook(url=self.rx2.url("/denied-async"), asynchronous=True)
        r = self.trigger()
        res = [s for s in r.results if s.webhook_id == sync.id][0]
        self.assertEqual(res.outcome, pb.OUTCOME_REFUSED, res)
        self.wait_state(r.queued[0].delivery_id, pb.DELIVERY_STATE_FAILED)
        by_hook = {}
        for a in attempt_lines(self.hookd.read_log()):
            by_hook.setdefault(a["webhook"], []).append(a)
        s, a = by_hook[str(sync.id)], by_hook[str(asyn.id)]
        self.assertEqual(len(s), 1, s)
        self.assertEqual(len(a), 1, a)
        s, a = s[0], a[0]
        # The same line, fields and all; only what differs in fact differs.
        self.assertEqual(sorted(s), sorted(a))
        self.assertEqual((s["sync"], a["sync"]), ("1", "0"))
        self.assertEqual(s["delivery"], str(res.delivery_id))
        for k in ("outcome", "status", "attempt", "next_in_ms"):
            self.assertEqual(s[k], a[k], k)
        self.assertEqual(s["outcome"], "refused")
        self.assertIn("127.0.0.2", s["error"])
        self.assertIn("refused by outbound policy", s["error"])
        self.assertEqual(self.rx2.got(), [])


if __name__ == "__main__":
    unittest.main()
