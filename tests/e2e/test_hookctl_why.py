"""test_hookctl_why.py -- hookctl answers "why did it fail, and when is the next try": golden text
for `deliveries` (last status, last error, next attempt or parked), `delivery ID` (every attempt),
`show` after a 410 deactivation, `trigger --origin api` naming the webhooks Ignore for API skipped,
trigger's exit status, redeliver's warning, ids for names, --wide and the terminal width, `help`,
--json anywhere, unix:// sockets, and hookd's log lines for synchronous attempts."""
import json
import os
import re
import subprocess
import textwrap
import time

import harness
from harness import HOOKCTL_BIN, pb
import receiver

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
T = "yyyy-mm-ddThh:mm:ssZ"  # a time, masked to the same width


def run(args, env=None, stdin=None):
    e = dict(os.environ)
    e.pop("HOOKD_SOCKET", None)
    e.pop("COLUMNS", None)
    e.update(env or {})
    p = subprocess.run([HOOKCTL_BIN] + list(args), env=e, input=stdin, capture_output=True,
                       timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class WhyCase(harness.HookdTestCase):
    config = "retry_schedule = 0,60\n"

    def setUp(self):
        super().setUp()
        self.rx = receiver.Receiver().start()
        self.addCleanup(self.rx.stop)

    def ctl(self, *args, env=None):
        return run(["--socket", self.hookd.socket] + list(args), env=env)

    def ok(self, *args, env=None):
        code, out, err = self.ctl(*args, env=env)
        self.assertEqual(code, 0, "hookctl %s: exit %d, stderr %r" % (" ".join(args), code, err))
        self.assertEqual(err, "")
        return out

    def hook(self, name, path, **kw):
        fields = dict(name=name, application=pb.APPLICATION_ENTERPRISE,
                      trigger_action="AccountUpdated", url=self.rx.url(path))
        fields.update(kw)
        return self.stub.CreateWebhook(pb.CreateWebhookRequest(**fields))

    def fire(self, event_id, origin=pb.ORIGIN_USER):
        return self.stub.TriggerEvent(pb.TriggerEventRequest(
            application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
            payload=b'{"n":1}', event_id=event_id, origin=origin), timeout=30)

    def wait(self, delivery_id, pred, timeout=15):
        end = time.monotonic() + timeout
        while True:
            d = self.stub.GetDelivery(pb.GetDeliveryRequest(id=delivery_id))
            if pred(d):
                return d
            self.assertLess(time.monotonic(), end, "delivery %d: %s" % (delivery_id, d))
            time.sleep(0.05)


class DeliveriesWhy(WhyCase):
    def test_deliveries_golden_failed_retrying_and_parked(self):
        self.rx.answer("/erp", status=503, body=b"maintenance")
        erp = self.hook("erp", "/erp", asynchronous=True)
        crm = self.hook("crm", "/crm")
        self.rx.answer("/crm", status=500, body=b"oops")
        r = self.fire("evt-1")
        sync_id = r.results[0].delivery_id
        async_id = r.queued[0].delivery_id
        d = self.wait(async_id, lambda d: d.attempt_count == 1)
        # A fresh hookd: the queued delivery is written first (1), the sync one then (2).
        self.assertEqual((async_id, sync_id), (1, 2))
        out = self.ok("deliveries", "--wide")
        self.assertEqual(TIME.sub(T, out), textwrap.dedent("""\
            ID   WEBHOOK   TRIGGER ACTION   STATE     ATTEMPTS   LAST STATUS   NEXT ATTEMPT           CREATED                LAST ERROR
            2    crm       AccountUpdated   failed    1          500           -                      yyyy-mm-ddThh:mm:ssZ   HTTP 500
            1    erp       AccountUpdated   pending   1          503           yyyy-mm-ddThh:mm:ssZ   yyyy-mm-ddThh:mm:ssZ   HTTP 503
            """))
        # The next attempt shown is the one hookd has planned (a minute on).
        row = [l for l in out.splitlines() if l.startswith("%d " % async_id)][0]
        self.assertIn(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(d.next_attempt_time // 1000)),
                      row)

        # Inactive: the pending delivery is parked, and says so.
        self.ok("deactivate", "erp")
        row = [l for l in self.ok("deliveries", "erp").splitlines() if l.startswith(str(async_id))]
        self.assertEqual(re.split(r" {3,}", row[0])[6], "parked: webhook inactive")
        self.assertEqual(erp.id, json.loads(self.ok("show", "erp", "--json"))["id"])
        self.assertTrue(crm.id)

    def test_delivery_golden_every_attempt(self):
        self.rx.sequence("/erp", [dict(status=503, body=b"maintenance\nback soon"),
                                  dict(status=204)])
        wh = self.hook("erp", "/erp", asynchronous=True)
        did = self.fire("evt-2").queued[0].delivery_id
        self.wait(did, lambda d: d.attempt_count == 1)
        out = self.ok("delivery", str(did))
        self.assertEqual((did, wh.id), (1, 1))  # a fresh hookd
        self.assertEqual(TIME.sub("<TIME>", out), textwrap.dedent("""\
            Delivery:              1
            Webhook:               erp (id 1)
            Event:                 evt-2
            Application:           Enterprise
            Trigger Action:        AccountUpdated
            Origin:                user
            Asynchronous:          Yes
            State:                 pending
            Created:               <TIME>
            Next Attempt:          <TIME>
            Attempts:              1
            Payload:               {"n":1}

            Attempt 1
              Time:                <TIME>
              Outcome:             http_error
              HTTP Status:         503
              Duration:            <MS> ms
              Error:               HTTP 503
              Response:            maintenance\\nback soon
            """).replace("<MS> ms", re.search(r"Duration: +(\d+ ms)", out).group(1)))
        d = json.loads(self.ok("delivery", str(did), "--json"))
        self.assertEqual(len(d["attempts"]), 1)
        self.assertEqual(d["attempts"][0]["response_body"], "maintenance\nback soon")
        self.assertEqual((d["last_http_status"], d["last_outcome"], d["last_error"]),
                         (503, "http_error", "HTTP 503"))
        code, out, err = self.ctl("delivery", "999999")
        self.assertEqual(code, 1)
        self.assertRegex(err, r"^hookctl: NOT_FOUND: ")
        code, out, err = self.ctl("delivery", "x")
        self.assertEqual(code, 2)
        self.assertIn("ID wants a delivery id", err)

    def test_deliveries_json_has_the_last_attempt_and_no_empty_attempts(self):
        self.hook("crm", "/crm")
        self.rx.answer("/crm", status=502, body=b"bad gateway")
        self.fire("evt-3")
        items = json.loads(self.ok("deliveries", "--json"))["deliveries"]
        self.assertEqual(len(items), 1)
        d = items[0]
        self.assertNotIn("attempts", d)  # GetDelivery's: not an empty list here
        self.assertNotIn("payload", d)
        self.assertEqual((d["last_http_status"], d["last_outcome"], d["last_error"]),
                         (502, "http_error", "HTTP 502"))
        self.assertGreater(d["last_attempt_time"], 0)
        # The same through the stock client: the fields are the server's.
        listed = self.stub.ListDeliveries(pb.ListDeliveriesRequest()).deliveries[0]
        self.assertEqual(listed.last_http_status, 502)
        self.assertEqual(listed.last_error, "HTTP 502")

    def test_redeliver_warns_when_the_webhook_is_inactive(self):
        self.hook("crm", "/crm")
        self.rx.answer("/crm", status=500)
        did = self.fire("evt-4").results[0].delivery_id
        self.ok("deactivate", "crm")
        code, out, err = self.ctl("redeliver", str(did))
        self.assertEqual(code, 0, err)
        self.assertRegex(out, r'^Queued delivery \d+ to webhook "crm"')
        self.assertRegex(err, r'^hookctl redeliver: warning: webhook "crm" is Inactive: the '
                              r'delivery waits until it is activated \(hookctl activate \d+\)\n$')
        self.ok("activate", "crm")
        code, out, err = self.ctl("redeliver", str(did))
        self.assertEqual((code, err), (0, ""))


class Gone(WhyCase):
    def test_show_says_why_and_since_when_after_410(self):
        self.rx.answer("/gone", status=410)
        wh = self.hook("old crm", "/gone", asynchronous=True)
        before = int(time.time())
        did = self.fire("evt-gone").queued[0].delivery_id
        self.wait(did, lambda d: d.attempt_count == 1)
        end = time.monotonic() + 10
        while self.stub.GetWebhook(pb.GetWebhookRequest(id=wh.id)).active:
            self.assertLess(time.monotonic(), end)
            time.sleep(0.05)
        out = self.ok("show", str(wh.id))  # by id
        m = re.search(r"(?m)^Status: +Inactive since (\S+): the receiver answered 410 Gone$", out)
        self.assertIsNotNone(m, out)
        since = time.mktime(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        self.assertGreaterEqual(since, before - 1)
        w = json.loads(self.ok("show", "old crm", "--json"))
        self.assertEqual(w["deactivated_reason"], "the receiver answered 410 Gone")
        self.assertGreater(w["deactivate_time"], 0)
        # Activated: the reason goes with the state it explained.
        self.ok("activate", "old crm")
        w = json.loads(self.ok("show", "old crm", "--json"))
        self.assertEqual((w["active"], w["deactivated_reason"], w["deactivate_time"]),
                         (True, "", 0))
        self.assertIn("Status:                Active\n", self.ok("show", "old crm"))
        # Deactivated by hand: since when, no reason.
        self.ok("edit", "old crm", "--inactive")
        self.assertRegex(self.ok("show", "old crm"), r"(?m)^Status: +Inactive since \S+Z$")


class TriggerWhy(WhyCase):
    def test_origin_api_names_the_skipped_webhooks(self):
        self.hook("loop guard", "/a", ignore_for_api=True)
        self.hook("async guard", "/b", ignore_for_api=True, asynchronous=True)
        out = self.ok("trigger", "--application", "enterprise", "--action", "AccountUpdated",
                      "--origin", "api", "--event-id", "evt-api")
        self.assertEqual(out, textwrap.dedent("""\
            Event evt-api

            Skipped:
            WEBHOOK       REASON
            loop guard    Ignore for API: the event came from an API call
            async guard   Ignore for API: the event came from an API call

            Nothing was sent: every active webhook of this trigger action has Ignore for API and the event came from an API call.
            """))
        data = json.loads(self.ok("trigger", "--json", "--application", "enterprise", "--action",
                                  "AccountUpdated", "--origin", "api"))
        self.assertEqual(sorted((s["webhook_name"], s["reason"]) for s in data["skipped"]),
                         [("async guard", "ignore_for_api"), ("loop guard", "ignore_for_api")])
        self.assertEqual(self.rx.got(), [])
        # From a user, they fire and nothing is skipped.
        self.rx.answer("/a", status=200)
        data = json.loads(self.ok("trigger", "--application", "enterprise", "--action",
                                  "AccountUpdated", "--json"))
        self.assertEqual(data["skipped"], [])
        self.assertEqual(len(data["results"]) + len(data["queued"]), 2)

    def test_exit_status_3_when_a_sync_receiver_fails(self):
        self.hook("good", "/good")
        self.hook("bad", "/bad")
        self.rx.answer("/good", status=200)
        self.rx.answer("/bad", status=404, body=b"no such hook")
        for extra in [[], ["--json"]]:
            code, out, err = self.ctl("trigger", "--application", "enterprise", "--action",
                                      "AccountUpdated", *extra)
            self.assertEqual(code, 3, (extra, out, err))
            self.assertEqual(err, "hookctl trigger: 1 of 2 synchronous receivers failed\n")
        self.rx.answer("/bad", status=200)
        code, out, err = self.ctl("trigger", "--application", "enterprise", "--action",
                                  "AccountUpdated")
        self.assertEqual((code, err), (0, ""))

    def test_sync_failures_are_logged_and_counted(self):
        self.hook("bad", "/bad")
        self.rx.answer("/bad", status=500)
        did = self.fire("evt-log").results[0].delivery_id
        self.assertEqual(self.hookd.stop(), 0)
        log = self.hookd.read_log()
        self.assertRegex(log, r"event=attempt delivery=%d webhook=\d+ sync=1 attempt=1 "
                              r"outcome=http_error status=500 ms=\d+ next_in_ms=-1 "
                              r'error="HTTP 500"' % did)
        m = re.search(r"event=delivery_stats attempts=(\d+) succeeded=(\d+) failed=(\d+) .*"
                      r"sync_attempts=(\d+) sync_failed=(\d+)", log)
        self.assertIsNotNone(m, log)
        self.assertEqual(tuple(int(x) for x in m.groups()), (1, 0, 1, 1, 1))


class Names(WhyCase):
    def test_ids_names_and_edit_active(self):
        a = self.hook("alpha", "/a")
        numbered = self.hook(str(a.id + 100), "/n")  # a name that looks like an id
        self.assertIn("Name:                  alpha\n", self.ok("show", str(a.id)))
        # A name comes first: "101" is the webhook of that name, not id 101.
        shown = json.loads(self.ok("show", str(a.id + 100), "--json"))
        self.assertEqual(shown["id"], numbered.id)
        w = json.loads(self.ok("edit", str(a.id), "--inactive", "--json"))
        self.assertEqual((w["name"], w["active"]), ("alpha", False))
        w = json.loads(self.ok("edit", "alpha", "--active", "--json"))
        self.assertIs(w["active"], True)
        self.assertEqual(self.ok("deactivate", str(a.id)), 'Webhook "alpha" is now Inactive.\n')
        self.assertTrue(self.ok("delete", str(a.id)).startswith('Deleted webhook "alpha"'))
        code, out, err = self.ctl("show", str(a.id))
        self.assertEqual(code, 1)
        self.assertRegex(err, r"^hookctl: NOT_FOUND: ")

    def test_long_urls_cut_to_the_terminal_unless_wide(self):
        url = "https://example.com/" + "x" * 100
        self.stub.CreateWebhook(pb.CreateWebhookRequest(
            name="long", application=pb.APPLICATION_ELITE, trigger_action="AccountUpdated",
            url=url))
        out = self.ok("list", env={"COLUMNS": "80"})
        self.assertEqual(out, textwrap.dedent("""\
            NAME   APPLICATION   TRIGGER ACTION   ENDPOINT                            STATUS
            long   Elite         Account Update   https://example.com/xxxxxxxxxx...   Active
            """))
        self.assertEqual(max(len(l) for l in out.splitlines()), 80)
        wide = self.ok("list", "--wide", env={"COLUMNS": "80"})
        self.assertIn(url, wide)
        self.assertIn(url, self.ok("list"))  # no terminal, no COLUMNS: nothing is cut

    def test_help_json_anywhere_and_unix_sockets(self):
        code, out, err = run(["help"])
        self.assertEqual((code, err), (0, ""))
        code2, out2, _ = run(["--help"])
        self.assertEqual(out, out2)
        self.assertIn("  delivery    ", out)
        code, out, err = run(["help", "deliveries"])
        self.assertEqual((code, err), (0, ""))
        self.assertTrue(out.startswith("usage: hookctl deliveries "), out)
        self.assertIn("parked: webhook inactive", out)
        code, out, err = run(["help", "nope"])
        self.assertEqual(code, 2)
        self.assertIn("unknown command 'nope'", err)

        self.hook("alpha", "/a")
        target = "unix://" + self.hookd.socket
        for args, env in [(["--json", "list"], {"HOOKD_SOCKET": target}),
                          (["list", "--json"], {"HOOKD_SOCKET": target}),
                          (["--socket", target, "list", "--json"], {}),
                          (["list", "--socket", target, "--json"], {})]:
            code, out, err = run(args, env=env)
            self.assertEqual((code, err), (0, ""), args)
            self.assertEqual([w["name"] for w in json.loads(out)["webhooks"]], ["alpha"], args)


if __name__ == "__main__":
    import unittest
    unittest.main()
