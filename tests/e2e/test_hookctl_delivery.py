"""test_hookctl_delivery.py -- `hookctl trigger`, `hookctl deliveries` and `hookctl redeliver`
against the real hookd delivering to a real receiver (receiver.py): exit codes, and that the
output shows the events, delivery ids and states the RPCs report."""
import json
import os
import re
import subprocess
import time
import unittest

import harness
from harness import HOOKCTL_BIN, pb
import receiver


def run(args, stdin=None):
    env = dict(os.environ)
    env.pop("HOOKD_SOCKET", None)
    p = subprocess.run([HOOKCTL_BIN] + list(args), env=env, input=stdin, capture_output=True,
                       timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def table(out, header_re):
    """The rows (lists of cells) of the table whose header matches header_re. Cells are
    separated by two or more spaces."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if re.match(header_re, line):
            rows = []
            for row in lines[i + 1:]:
                if not row.strip():
                    break
                rows.append(re.split(r"\s{2,}", row.strip()))
            return rows
    raise AssertionError("no table %r in:\n%s" % (header_re, out))


class CtlDeliveryCase(harness.HookdTestCase):
    config = "retry_schedule = 0,1,1,1\n"

    def setUp(self):
        super().setUp()
        self.rx = receiver.Receiver().start()
        self.addCleanup(self.rx.stop)

    def ctl(self, *args, stdin=None):
        return run(["--socket", self.hookd.socket] + list(args), stdin=stdin)

    def ok(self, *args, stdin=None):
        code, out, err = self.ctl(*args, stdin=stdin)
        self.assertEqual(code, 0, "hookctl %s: exit %d, stderr %r" % (" ".join(args), code, err))
        self.assertEqual(err, "")
        return out

    def fails(self, status, *args):
        code, out, err = self.ctl(*args)
        self.assertEqual(code, 1, "stdout %r stderr %r" % (out, err))
        self.assertEqual(out, "")
        m = re.fullmatch(r"hookctl: ([A-Z_]+): (.+)\n", err)
        self.assertIsNotNone(m, err)
        self.assertEqual(m.group(1), status, err)
        return m.group(2)

    def hook(self, name, path, **kw):
        fields = dict(name=name, application=pb.APPLICATION_ENTERPRISE,
                      trigger_action="AccountUpdated", url=self.rx.url(path))
        fields.update(kw)
        return self.stub.CreateWebhook(pb.CreateWebhookRequest(**fields))

    def trigger(self, *extra):
        return self.ok("trigger", "--application", "enterprise", "--action", "AccountUpdated",
                       *extra)

    def wait_state(self, delivery_id, state, timeout=15):
        end = time.monotonic() + timeout
        while True:
            d = self.stub.GetDelivery(pb.GetDeliveryRequest(id=delivery_id))
            if d.state == state:
                return d
            self.assertLess(time.monotonic(), end, "delivery %d stays %s" % (
                delivery_id, pb.DeliveryState.Name(d.state)))
            time.sleep(0.05)


class Trigger(CtlDeliveryCase):
    def test_trigger_shows_sync_results_and_queued_deliveries(self):
        orders = self.hook("orders", "/orders")
        audit = self.hook("audit log", "/audit", asynchronous=True)
        self.rx.answer("/orders", status=200, body=b"ok")
        out = self.trigger("--payload", '{"accountId": 42}', "--event-id", "evt-ctl-1")
        self.assertEqual(out.splitlines()[0], "Event evt-ctl-1")
        sync = table(out, r"^WEBHOOK +OUTCOME +HTTP +DURATION +DELIVERY +ERROR\s*$")
        self.assertEqual(len(sync), 1, out)
        name, outcome, status, duration, delivery, error = sync[0]
        self.assertEqual(name, "orders")
        self.assertEqual(outcome, "succeeded")
        self.assertEqual(status, "200")
        self.assertRegex(duration, r"^\d+ ms$")
        self.assertEqual(error, "-")
        queued = table(out, r"^WEBHOOK +DELIVERY\s*$")
        self.assertEqual(len(queued), 1, out)
        self.assertEqual(queued[0][0], "audit log")
        # The ids shown are the log's.
        logged = {d.webhook_id: d.id for d in self.stub.ListDeliveries(
            pb.ListDeliveriesRequest()).deliveries}
        self.assertEqual(int(delivery), logged[orders.id])
        self.assertEqual(int(queued[0][1]), logged[audit.id])
        # And the receivers got the event.
        req = self.rx.wait_for(1, "/orders", timeout=5)[0]
        self.assertEqual(req.headers["webhook-id"], "evt-ctl-1")
        self.assertEqual(json.loads(req.body)["data"], {"accountId": 42})
        self.rx.wait_for(1, "/audit", timeout=5)

    def test_trigger_json(self):
        wh = self.hook("orders", "/orders")
        self.rx.answer("/orders", status=202, body=b"queued on our side")
        data = json.loads(self.trigger("--payload", "[1,2]", "--origin", "api", "--json"))
        self.assertTrue(data["event_id"])
        self.assertFalse(data["duplicate"])
        self.assertEqual(len(data["results"]), 1, data)
        r = data["results"][0]
        self.assertEqual(r["webhook_id"], wh.id)
        self.assertEqual(r["webhook_name"], "orders")
        self.assertEqual(r["outcome"], "succeeded")
        self.assertEqual(r["http_status"], 202)
        self.assertEqual(r["response_body"], "queued on our side")
        self.assertGreater(r["delivery_id"], 0)
        req = self.rx.wait_for(1, "/orders", timeout=5)[0]
        self.assertEqual(req.headers["webhook-id"], data["event_id"])
        self.assertEqual(json.loads(req.body)["origin"], "api")

    def test_trigger_shows_a_failed_receiver(self):
        self.hook("orders", "/orders")
        self.rx.answer("/orders", status=503, body=b"maintenance")
        # The RPC worked, a synchronous receiver did not: exit 3, the table says why.
        code, out, err = self.ctl("trigger", "--application", "enterprise", "--action",
                                  "AccountUpdated")
        self.assertEqual(code, 3, err)
        self.assertEqual(err, "hookctl trigger: 1 of 1 synchronous receivers failed\n")
        name, outcome, status, _, delivery, error = table(out, r"^WEBHOOK +OUTCOME")[0]
        self.assertEqual(outcome, "http_error")
        self.assertEqual(status, "503")
        self.assertIn("503", error)
        d = self.stub.GetDelivery(pb.GetDeliveryRequest(id=int(delivery)))
        self.assertEqual(d.state, pb.DELIVERY_STATE_FAILED)

    def test_trigger_same_event_id_twice(self):
        self.hook("orders", "/orders")
        first = self.trigger("--event-id", "evt-twice")
        again = self.trigger("--event-id", "evt-twice")
        self.assertEqual(first.splitlines()[0], "Event evt-twice")
        self.assertEqual(again.splitlines()[0],
                         "Event evt-twice (seen before: this is its first answer)")
        rows = table(first, r"^WEBHOOK +OUTCOME")
        self.assertEqual(len(rows), 1, first)
        self.assertEqual(table(again, r"^WEBHOOK +OUTCOME"), rows)  # the first answer, as it was
        time.sleep(0.5)
        self.assertEqual(len(self.rx.got("/orders")), 1)

    def test_trigger_payload_from_stdin_and_file(self):
        self.hook("orders", "/orders")
        code, out, err = self.ctl("trigger", "--application", "enterprise", "--action",
                                  "AccountUpdated", "--payload", "@-", stdin=b'{"from":"stdin"}')
        self.assertEqual(code, 0, err)
        path = os.path.join(self.hookd.base, "payload.json")
        with open(path, "wb") as f:
            f.write(b'{"from":"file"}')
        self.trigger("--payload", "@" + path)
        reqs = self.rx.wait_for(2, "/orders", timeout=5)
        self.assertEqual([json.loads(q.body)["data"] for q in reqs],
                         [{"from": "stdin"}, {"from": "file"}])

    def test_trigger_with_no_webhook(self):
        out = self.trigger()
        self.assertRegex(out, r"^Event \S+\nNo active webhook has this trigger action\.\n$")
        self.assertEqual(self.rx.got(), [])

    def test_trigger_bad_payload_is_refused_by_hookd(self):
        self.hook("orders", "/orders")
        msg = self.fails("INVALID_ARGUMENT", "trigger", "--application", "enterprise",
                         "--action", "AccountUpdated", "--payload", '{"broken":')
        self.assertIn("payload", msg)
        self.assertEqual(self.rx.got(), [])


class Deliveries(CtlDeliveryCase):
    def setUp(self):
        super().setUp()
        self.orders = self.hook("orders", "/orders")
        self.billing = self.hook("billing", "/billing", trigger_action="InvoiceCreated")
        self.rx.answer("/billing", status=500)
        self.ids = {}
        for i in range(2):
            r = self.stub.TriggerEvent(pb.TriggerEventRequest(
                application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
                payload=b'{"n":%d}' % i, event_id="acct-%d" % i), timeout=30)
            self.ids[r.results[0].delivery_id] = ("orders", "succeeded")
            time.sleep(0.01)
        r = self.stub.TriggerEvent(pb.TriggerEventRequest(
            application=pb.APPLICATION_ENTERPRISE, trigger_action="InvoiceCreated",
            payload=b'{"invoice":1}', event_id="inv-1"), timeout=30)
        self.failed_id = r.results[0].delivery_id
        self.ids[self.failed_id] = ("billing", "failed")

    def rows(self, *args):
        return [r[:5] + r[7:8] for r in table(
            self.ok("deliveries", "--wide", *args),
            r"^ID +WEBHOOK +TRIGGER ACTION +STATE +ATTEMPTS +LAST STATUS +NEXT ATTEMPT +CREATED +"
            r"LAST ERROR\s*$")]

    def test_deliveries_table(self):
        rows = self.rows()
        self.assertEqual([int(r[0]) for r in rows], sorted(self.ids, reverse=True))  # newest first
        for r in rows:
            did, name, action, state, attempts, created = r
            self.assertEqual((name, state), self.ids[int(did)])
            self.assertEqual(action, "InvoiceCreated" if name == "billing" else "AccountUpdated")
            self.assertEqual(attempts, "1")
            self.assertRegex(created, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_deliveries_of_one_webhook_and_state(self):
        self.assertEqual({r[1] for r in self.rows("orders")}, {"orders"})
        self.assertEqual(len(self.rows("orders")), 2)
        failed = self.rows("--state", "failed")
        self.assertEqual([int(r[0]) for r in failed], [self.failed_id])
        self.assertEqual(self.rows("billing", "--state", "succeeded"), [])

    def test_deliveries_json(self):
        data = json.loads(self.ok("deliveries", "--json"))
        got = {d["id"]: (d["webhook_name"], d["state"]) for d in data["deliveries"]}
        self.assertEqual(got, self.ids)
        billing = [d for d in data["deliveries"] if d["id"] == self.failed_id][0]
        self.assertEqual(billing["event_id"], "inv-1")
        self.assertEqual(billing["webhook_id"], self.billing.id)
        self.assertEqual(billing["attempt_count"], 1)

    def test_redeliver(self):
        self.rx.answer("/billing", status=200)
        out = self.ok("redeliver", str(self.failed_id))
        m = re.fullmatch(r'Queued delivery (\d+) to webhook "billing" '
                         r'\(a new delivery of event inv-1\)\.\n', out)
        self.assertIsNotNone(m, out)
        new_id = int(m.group(1))
        self.assertNotIn(new_id, self.ids)
        reqs = self.rx.wait_for(2, "/billing", timeout=10)
        self.assertEqual(reqs[-1].headers["webhook-id"], "inv-1")
        self.assertEqual(json.loads(reqs[-1].body)["data"], {"invoice": 1})
        self.wait_state(new_id, pb.DELIVERY_STATE_SUCCEEDED)
        rows = {int(r[0]): r for r in self.rows("billing")}
        self.assertEqual(rows[new_id][3], "succeeded")
        self.assertEqual(rows[self.failed_id][3], "failed")

    def test_redeliver_json(self):
        d = json.loads(self.ok("redeliver", str(self.failed_id), "--json"))
        self.assertNotIn(d["id"], self.ids)
        self.assertEqual(d["webhook_id"], self.billing.id)
        self.assertEqual(d["event_id"], "inv-1")
        self.assertTrue(d["asynchronous"])

    def test_redeliver_unknown_id(self):
        msg = self.fails("NOT_FOUND", "redeliver", "987654321")
        self.assertTrue(msg)


if __name__ == "__main__":
    unittest.main()
