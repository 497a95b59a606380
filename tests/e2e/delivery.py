"""delivery.py -- shared by the test_delivery_*.py files: DeliveryCase (a fresh hookd and one HTTP
receiver per test, with helpers to create webhooks, trigger events and poll deliveries) and
node_verify (signatures checked by stock npm libraries, node/verify.js).

Timing assertions: CI runs ctest -j2, also with an ASan build, on two cores. Each bound in the
tests says what it is made of; the allowances are the client's own overhead (python grpcio, a
process that may be descheduled), never slack hiding a wrong design (a serial fan-out or a
missing abort would miss every bound by a second or more).
"""
import base64
import json
import os
import re
import subprocess
import time

import harness
from harness import pb
import receiver

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(HERE, "node")
VERIFY_JS = os.path.join(NODE_DIR, "verify.js")

RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|\+00:00)$")

# What the client side of one RPC may add on a loaded 2-core CI box (ASan hookd, python grpcio,
# ctest -j2): scheduling delays of a few tens of ms, the channel's first connect. Used only on
# top of a bound the contract states.
CLIENT_ALLOWANCE_S = 0.15


def now_ms():
    return int(time.time() * 1000)


class DeliveryCase(harness.HookdTestCase):
    """A fresh hookd and one HTTP receiver (self.rx) per test."""

    config = "retry_schedule = 0,1,1,1,1\n"

    def setUp(self):
        super().setUp()
        self.rx = receiver.Receiver().start()
        self.addCleanup(self.rx.stop)
        self._names = 0

    def hook(self, path="/hook", url=None, **kw):
        """Creates a webhook (synchronous unless asynchronous=True) to the receiver."""
        self._names += 1
        fields = dict(name="hook %d %s" % (self._names, path), application=pb.APPLICATION_ENTERPRISE,
                      trigger_action="AccountUpdated", url=url or self.rx.url(path))
        fields.update(kw)
        return self.stub.CreateWebhook(pb.CreateWebhookRequest(**fields))

    def trigger(self, payload=b'{"account":{"id":42}}', timeout=30, **kw):
        fields = dict(application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
                      payload=payload, origin=pb.ORIGIN_USER)
        fields.update(kw)
        return self.stub.TriggerEvent(pb.TriggerEventRequest(**fields), timeout=timeout)

    def delivery(self, delivery_id):
        return self.stub.GetDelivery(pb.GetDeliveryRequest(id=delivery_id), timeout=10)

    def wait_delivery(self, delivery_id, cond, timeout=15.0, what="condition"):
        """Polls GetDelivery until cond(delivery) holds; returns the delivery."""
        end = time.monotonic() + timeout
        d = None
        while time.monotonic() < end:
            d = self.delivery(delivery_id)
            if cond(d):
                return d
            time.sleep(0.05)
        self.fail("delivery %d: no %s within %.0fs; last seen:\n%s" % (delivery_id, what, timeout, d))

    def wait_state(self, delivery_id, state, timeout=15.0):
        return self.wait_delivery(delivery_id, lambda d: d.state == state, timeout,
                                  pb.DeliveryState.Name(state))

    def assertQuiet(self, path, count, seconds):
        """After `seconds` more, the receiver still has exactly count requests to path."""
        time.sleep(seconds)
        self.assertEqual(len(self.rx.got(path)), count, self.rx.got(path))

    def envelope(self, req):
        return json.loads(req.body)


def node_verify(secret, req, url, name):
    """Runs node/verify.js (npm standardwebhooks + jsonwebtoken) on a received request.
    Returns (exit code, parsed output)."""
    data = {"secret": secret, "headers": dict(req.headers),
            "body_b64": base64.b64encode(req.body).decode(), "url": url, "name": name}
    p = subprocess.run(["node", VERIFY_JS], input=json.dumps(data).encode(), cwd=NODE_DIR,
                       capture_output=True, timeout=60)
    try:
        out = json.loads(p.stdout)
    except ValueError:
        out = {"ok": False, "error": "verify.js said %r %r" % (p.stdout, p.stderr)}
    return p.returncode, out
