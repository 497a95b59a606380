"""test_migrate.py -- hookd starts on a store the previous release wrote (schema 1) and keeps it all.

tests/fixtures/store-v1 was written by hookd 8acb183 (make.py there says how),
with expected.json holding what that hookd answered. Today's hookd migrates the
store at start, then must answer the same for every webhook and delivery, keep
the event ids it had seen, and deliver the parked deliveries (signed with the
migrated secret) once their webhook is active again.
"""
import base64
import json
import os
import re
import shutil
import time
import unittest

import harness
from harness import pb
from receiver import Receiver
from test_trigger import standard_webhooks_signature

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "store-v1")
# The fixture's deliveries and event ids must outlive any CI date.
CONFIG = "log_max_age = 4000000000\nidempotency_window = 4000000000\nallow_http = true\n"


class Migrate(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(FIXTURE, "expected.json")) as f:
            self.want = json.load(f)
        self.h = harness.Hookd(CONFIG)
        os.makedirs(self.h.data, mode=0o700)
        for name in ("data.mdb", "secret.key"):
            shutil.copy(os.path.join(FIXTURE, name), os.path.join(self.h.data, name))
            os.chmod(os.path.join(self.h.data, name), 0o600)
        self.addCleanup(self.h.cleanup)
        self.h.start()
        self.stub = self.h.stub()

    def check_same(self):
        for w in self.want["webhooks"]:
            got = self.stub.GetWebhook(pb.GetWebhookRequest(id=w["id"], reveal_secret=True))
            self.assertEqual((got.name, got.url, got.active, got.asynchronous, got.trigger_action,
                              got.secret_key),
                             (w["name"], w["url"], w["active"], w["asynchronous"],
                              w["trigger_action"], w["secret_key"]))
        listed = self.stub.ListDeliveries(pb.ListDeliveriesRequest(page_size=100)).deliveries
        self.assertEqual(sorted(d.id for d in listed), sorted(d["id"] for d in self.want["deliveries"]))
        active = {w["id"] for w in self.want["webhooks"] if w["active"]}
        for d in self.want["deliveries"]:
            got = self.stub.GetDelivery(pb.GetDeliveryRequest(id=d["id"]))
            attempts = [{"outcome": a.outcome, "http_status": a.http_status} for a in got.attempts]
            kept = (got.webhook_id, got.event_id, base64.b64encode(got.payload).decode())
            self.assertEqual(kept, (d["webhook_id"], d["event_id"], d["payload"]), "delivery %d" % d["id"])
            if d["state"] == "DELIVERY_STATE_PENDING" and d["webhook_id"] in active:
                # Its retry was due an hour after the fixture was made: long past by now,
                # so hookd tries again (the receiver is gone). What was, stays.
                self.assertEqual(attempts[:len(d["attempts"])], d["attempts"], "delivery %d" % d["id"])
                self.assertGreaterEqual(got.attempt_count, d["attempt_count"])
                continue
            self.assertEqual(
                (pb.DeliveryState.Name(got.state), got.attempt_count, got.next_attempt_time, attempts),
                (d["state"], d["attempt_count"], d["next_attempt_time"], d["attempts"]),
                "delivery %d" % d["id"])

    def test_everything_is_kept(self):
        log = self.h.read_log()
        self.assertRegex(log, r"event=store_migrated to_schema=2 deliveries=17 bodies=17 pending=6 ")
        self.check_same()
        # The event ids it had answered are still answered the same way.
        again = self.stub.TriggerEvent(pb.TriggerEventRequest(
            application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
            payload=b'{"other":1}', event_id="AccountUpdated-0"))
        self.assertTrue(again.duplicate)
        self.assertEqual([q.delivery_id for q in again.queued], [1])
        # A restart finds schema 2: no second migration, the same answers.
        self.h.stop()
        self.h.start()
        self.stub = self.h.stub()
        self.assertEqual(len(re.findall(r"event=store_migrating", self.h.read_log())), 1)
        self.check_same()

    def test_parked_deliveries_go_out_signed(self):
        rx = Receiver().start()
        self.addCleanup(rx.stop)
        parked = next(w for w in self.want["webhooks"] if w["name"] == "parked")
        waiting = {d["id"]: base64.b64decode(d["payload"]) for d in self.want["deliveries"]
                   if d["webhook_id"] == parked["id"]}
        self.assertEqual(len(waiting), 4)
        self.stub.UpdateWebhook(pb.UpdateWebhookRequest(id=parked["id"], url=rx.url("/p"), active=True))
        got = rx.wait_for(4, "/p", timeout=20)
        seen = {}
        for req in got:
            self.assertEqual(req.headers["webhook-signature"],
                             standard_webhooks_signature(parked["secret_key"], req.headers, req.body))
            body = json.loads(req.body)
            seen[body["id"]] = body
        # Each event's data is the payload that hookd 8acb183 was given.
        datas = sorted(json.dumps(b["data"], sort_keys=True) for b in seen.values())
        self.assertEqual(datas, sorted(json.dumps(json.loads(p), sort_keys=True) for p in waiting.values()))
        # Their results are written after the answers came (a write nobody waits for).
        end = time.time() + 10
        states = []
        while time.time() < end:
            states = [self.stub.GetDelivery(pb.GetDeliveryRequest(id=i)).state for i in waiting]
            if states == [pb.DELIVERY_STATE_SUCCEEDED] * 4:
                break
            time.sleep(0.05)
        self.assertEqual(states, [pb.DELIVERY_STATE_SUCCEEDED] * 4)


if __name__ == "__main__":
    unittest.main()
