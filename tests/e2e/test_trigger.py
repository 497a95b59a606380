"""test_trigger.py -- smoke test of the event path: TriggerEvent to a sync and an async webhook on a
python http.server receiver, a retried 500, and a kill -9 right after the answer."""
import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
import unittest

import harness
from harness import pb


class Receiver:
    """An HTTP receiver on 127.0.0.1 in a thread. Each path answers with the statuses of
    self.plan[path] in turn (the last one repeats; default 200)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.got = []   # (path, headers dict (lower-case names), body, status answered)
        self.plan = {}
        rx = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with rx.lock:
                    plan = rx.plan.get(self.path, [200])
                    status = plan.pop(0) if len(plan) > 1 else plan[0]
                    rx.got.append((self.path, {k.lower(): v for k, v in self.headers.items()},
                                   body, status))
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.server.server_address[1], path)

    def requests(self, path):
        with self.lock:
            return [g for g in self.got if g[0] == path]

    def wait(self, path, n, timeout=10.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.requests(path)
            if len(got) >= n:
                return got
            time.sleep(0.02)
        raise AssertionError("%s: %d requests, wanted %d" % (path, len(self.requests(path)), n))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def standard_webhooks_signature(secret, headers, body):
    """The expected webhook-signature (Standard Webhooks: HMAC-SHA256 of id.timestamp.body)."""
    key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()
    msg = b"%s.%s.%s" % (headers["webhook-id"].encode(), headers["webhook-timestamp"].encode(), body)
    return "v1," + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


class Trigger(harness.HookdTestCase):
    config = "retry_schedule = 0,1,1\n"

    def setUp(self):
        super().setUp()
        self.rx = Receiver()
        self.addCleanup(self.rx.stop)

    def hook(self, name, path, asynchronous):
        return self.stub.CreateWebhook(pb.CreateWebhookRequest(
            name=name, application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
            url=self.rx.url(path), asynchronous=asynchronous))

    def trigger(self, **kw):
        kw.setdefault("payload", b'{"account":7}')
        return self.stub.TriggerEvent(pb.TriggerEventRequest(
            application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated", **kw), timeout=20)

    def wait_state(self, stub, delivery_id, state, timeout=15.0):
        end = time.monotonic() + timeout
        while True:
            d = stub.GetDelivery(pb.GetDeliveryRequest(id=delivery_id), timeout=5)
            if d.state == state:
                return d
            self.assertLess(time.monotonic(), end, "delivery %d stays %s" % (
                delivery_id, pb.DeliveryState.Name(d.state)))
            time.sleep(0.05)

    def test_sync_and_async(self):
        sync = self.hook("sync", "/sync", False)
        asyn = self.hook("async", "/async", True)
        r = self.trigger()
        self.assertEqual(len(r.results), 1, r)
        self.assertEqual(r.results[0].webhook_id, sync.id)
        self.assertEqual(r.results[0].outcome, pb.OUTCOME_SUCCEEDED)
        self.assertEqual(r.results[0].http_status, 200)
        self.assertEqual(r.results[0].response_body, b"ok")
        self.assertEqual([q.webhook_id for q in r.queued], [asyn.id])
        self.assertTrue(r.event_id.startswith("evt_"), r.event_id)

        for wh, path in ((sync, "/sync"), (asyn, "/async")):
            _, headers, body, _ = self.rx.wait(path, 1)[0]
            self.assertEqual(headers["webhook-id"], r.event_id)
            self.assertLessEqual(abs(int(headers["webhook-timestamp"]) - time.time()), 10)
            self.assertEqual(headers["webhook-signature"],
                             standard_webhooks_signature(wh.secret_key, headers, body))
            self.assertTrue(headers["authorization"].startswith("Bearer "))
            self.assertEqual(headers["content-type"], "application/json")
            self.assertTrue(headers["user-agent"].startswith("hookd/"))
            env = json.loads(body)
            self.assertEqual(env["data"], {"account": 7})
            self.assertEqual(env["type"], "AccountUpdated")

        d = self.wait_state(self.stub, r.queued[0].delivery_id, pb.DELIVERY_STATE_SUCCEEDED)
        self.assertTrue(d.asynchronous)
        self.assertEqual(d.payload, b'{"account":7}')
        s = self.stub.GetDelivery(pb.GetDeliveryRequest(id=r.results[0].delivery_id))
        self.assertEqual(s.state, pb.DELIVERY_STATE_SUCCEEDED)
        self.assertFalse(s.asynchronous)

    def test_500_then_200_is_retried(self):
        self.rx.plan["/flaky"] = [500, 200]
        self.hook("flaky", "/flaky", True)
        r = self.trigger()
        self.rx.wait("/flaky", 2)
        d = self.wait_state(self.stub, r.queued[0].delivery_id, pb.DELIVERY_STATE_SUCCEEDED)
        self.assertEqual([a.http_status for a in d.attempts], [500, 200])
        ids = {h["webhook-id"] for _, h, _, _ in self.rx.requests("/flaky")}
        self.assertEqual(ids, {r.event_id})

    def test_repeated_event_id(self):
        self.hook("once", "/once", True)
        first = self.trigger(event_id="smoke-1")
        again = self.trigger(event_id="smoke-1")
        self.assertTrue(again.duplicate)
        self.assertEqual(list(again.queued), list(first.queued))
        self.rx.wait("/once", 1)
        time.sleep(0.5)
        self.assertEqual(len(self.rx.requests("/once")), 1)

    def test_strings_are_exactly_what_was_sent(self):
        # Two event ids that differ only after a NUL must not collapse into one: the NUL
        # is refused, naming the field, and nothing is queued.
        self.hook("exact", "/exact", True)
        import grpc
        for eid in ("order-42\0created", "order-42\0cancelled"):
            with self.assertRaises(grpc.RpcError) as cm:
                self.trigger(event_id=eid)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertEqual(cm.exception.details(), "event_id: contains a NUL byte")
        first = self.trigger(event_id="order-42")
        self.assertFalse(first.duplicate)
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.CreateWebhook(pb.CreateWebhookRequest(
                name="a\0b", application=pb.APPLICATION_ENTERPRISE,
                trigger_action="AccountUpdated", url=self.rx.url("/x")))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertEqual(cm.exception.details(), "name: contains a NUL byte")
        self.rx.wait("/exact", 1)
        time.sleep(0.3)
        self.assertEqual([h["webhook-id"] for _, h, _, _ in self.rx.requests("/exact")], ["order-42"])

    def test_payload_that_is_not_json_is_refused_where_it_breaks(self):
        self.hook("json", "/json", True)
        import grpc
        for payload, where in ((b'{"a": 1,\n "b": }', "line 2"), (b"[" * 129 + b"]" * 129, "nested deeper than 128")):
            with self.assertRaises(grpc.RpcError) as cm:
                self.trigger(payload=payload)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertTrue(cm.exception.details().startswith("payload: not valid JSON: "),
                            cm.exception.details())
            self.assertIn(where, cm.exception.details())
        self.trigger(payload=b'{"big": 123456789012345678901234567890}')
        self.rx.wait("/json", 1)
        time.sleep(0.3)
        self.assertEqual(len(self.rx.requests("/json")), 1)  # only the valid one was queued

    def test_kill9_right_after_the_answer(self):
        # The first attempt (if it comes before the kill) fails; after the
        # restart the receiver takes it.
        self.rx.plan["/later"] = [500, 200]
        self.hook("later", "/later", True)
        r = self.trigger(event_id="survives")
        self.assertEqual(self.hookd.kill9(), -9)
        second = harness.Hookd(self.config, base=self.hookd.base)
        self.addCleanup(second.cleanup)
        self.hookd = second
        second.start()
        stub = second.stub()
        d = self.wait_state(stub, r.queued[0].delivery_id, pb.DELIVERY_STATE_SUCCEEDED)
        self.assertEqual(d.attempts[-1].http_status, 200)
        ok = [h for _, h, _, status in self.rx.requests("/later") if status == 200]
        self.assertEqual([h["webhook-id"] for h in ok], ["survives"])


if __name__ == "__main__":
    unittest.main()
