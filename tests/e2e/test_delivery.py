"""test_delivery.py -- TriggerEvent and the delivery log end to end: the real hookd delivering to
real HTTP(S) receivers on loopback (receiver.py), signatures checked by stock npm libraries
(node/verify.js).

Timing assertions: CI runs ctest -j2, also with an ASan build, on two cores. Each bound below
says what it is made of; the allowances are the client's own overhead (python grpcio, a
process that may be descheduled), never slack hiding a wrong design (a serial fan-out or a
missing abort would miss every bound by a second or more).
"""
import base64
import concurrent.futures
import datetime
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

import grpc

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


# ---------------------------------------------------------------------------------------------
class Envelope(DeliveryCase):
    def test_envelope_fields(self):
        self.hook("/hook")
        payload = b'{"account": {"id": 42, "name": "Caf\xc3\xa9 \\u00e9"},  "tags":[1, 2.5, null]}'
        before = time.time()
        r = self.trigger(payload)
        after = time.time()
        self.assertEqual(len(r.results), 1, r)
        req = self.rx.wait_for(1, "/hook", timeout=5)[0]
        env = self.envelope(req)
        self.assertEqual(set(env), {"id", "type", "application", "origin", "timestamp", "data"})
        self.assertEqual(env["id"], r.event_id)
        self.assertTrue(r.event_id, "hookd assigns an event id when none is given")
        self.assertEqual(env["type"], "AccountUpdated")
        self.assertEqual(env["application"], "enterprise")
        self.assertEqual(env["origin"], "user")
        self.assertRegex(env["timestamp"], RFC3339_UTC)
        ts = datetime.datetime.fromisoformat(env["timestamp"]).timestamp()
        self.assertGreaterEqual(ts, before - 1.0)  # RFC 3339 may be cut to whole seconds
        self.assertLessEqual(ts, after + 1.0)
        self.assertEqual(env["data"], json.loads(payload))
        # "data": <payload as given> -- byte for byte, not re-encoded.
        self.assertIn(payload, req.body)

    def test_elite_and_api_origin(self):
        self.hook("/elite", application=pb.APPLICATION_ELITE, trigger_action="OrderCreated")
        r = self.trigger(b'[1,2,3]', application=pb.APPLICATION_ELITE,
                         trigger_action="OrderCreated", origin=pb.ORIGIN_API)
        self.assertEqual(len(r.results), 1, r)
        env = self.envelope(self.rx.wait_for(1, "/elite", timeout=5)[0])
        self.assertEqual(env["application"], "elite")
        self.assertEqual(env["origin"], "api")
        self.assertEqual(env["type"], "OrderCreated")
        self.assertEqual(env["data"], [1, 2, 3])

    def test_unspecified_origin_is_user(self):
        self.hook("/u")
        self.trigger(b'"just a string"', origin=pb.ORIGIN_UNSPECIFIED)
        env = self.envelope(self.rx.wait_for(1, "/u", timeout=5)[0])
        self.assertEqual(env["origin"], "user")
        self.assertEqual(env["data"], "just a string")

    def test_headers(self):
        self.hook("/h?tenant=7")
        before = time.time()
        r = self.trigger()
        req = self.rx.wait_for(1, "/h", timeout=5)[0]
        self.assertEqual(req.method, "POST")
        self.assertEqual(req.path, "/h?tenant=7")  # the query goes as configured
        self.assertTrue(req.headers["content-type"].startswith("application/json"),
                        req.headers["content-type"])
        self.assertRegex(req.headers["user-agent"], r"^hookd/\S+")
        self.assertEqual(req.headers["webhook-id"], r.event_id)
        self.assertEqual(req.headers["webhook-id"], self.envelope(req)["id"])
        ts = int(req.headers["webhook-timestamp"])
        self.assertGreaterEqual(ts, int(before) - 1)
        self.assertLessEqual(ts, time.time() + 1)
        self.assertRegex(req.headers["webhook-signature"], r"^v1,[A-Za-z0-9+/]{43}=$")
        self.assertRegex(req.headers["authorization"],
                         r"^Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
        self.assertEqual(int(req.headers["content-length"]), len(req.body))

    def test_given_event_id_is_the_envelope_id(self):
        self.hook("/e")
        r = self.trigger(event_id="booking-2024-000017")
        self.assertEqual(r.event_id, "booking-2024-000017")
        req = self.rx.wait_for(1, "/e", timeout=5)[0]
        self.assertEqual(req.headers["webhook-id"], "booking-2024-000017")
        self.assertEqual(self.envelope(req)["id"], "booking-2024-000017")

    def test_assigned_event_ids_are_distinct(self):
        self.hook("/d")
        ids = {self.trigger().event_id for _ in range(5)}
        self.assertEqual(len(ids), 5, ids)
        got = {r.headers["webhook-id"] for r in self.rx.wait_for(5, "/d", timeout=5)}
        self.assertEqual(got, ids)


class Signature(DeliveryCase):
    def check(self, wh, path):
        r = self.trigger(b'{"signed":"\xe2\x9c\x93"}')
        self.assertEqual(r.results[0].outcome, pb.OUTCOME_SUCCEEDED, r)
        req = self.rx.wait_for(1, path, timeout=5)[0]
        rc, out = node_verify(wh.secret_key, req, wh.url, wh.name)
        self.assertEqual(rc, 0, out)
        self.assertTrue(out["ok"], out)
        claims = out["claims"]
        self.assertEqual(claims["jti"], r.event_id)
        self.assertEqual(claims["sub"], wh.name)
        self.assertEqual(claims["aud"], wh.url)
        self.assertLessEqual(abs(claims["iat"] - time.time()), 10)
        self.assertEqual(out["payload"]["data"], {"signed": "\u2713"})
        return req

    def test_generated_secret_verifies_with_standardwebhooks_and_jsonwebtoken(self):
        wh = self.hook("/sig")
        self.assertTrue(wh.secret_key.startswith("whsec_"))
        req = self.check(wh, "/sig")
        # The verifier is real: a changed body, another secret or another audience fail.
        tampered = receiver.Request(req.method, req.path, req.header_list,
                                    req.body.replace(b"signed", b"Signed"), 0, 0, 0)
        rc, out = node_verify(wh.secret_key, tampered, wh.url, wh.name)
        self.assertNotEqual(rc, 0, out)
        other = "whsec_" + base64.b64encode(b"k" * 32).decode()
        self.assertNotEqual(node_verify(other, req, wh.url, wh.name)[0], 0)
        self.assertNotEqual(node_verify(wh.secret_key, req, wh.url + "x", wh.name)[0], 0)

    def test_own_whsec_secret(self):
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's test vector key
        wh = self.hook("/vec", secret_key=secret)
        self.assertEqual(wh.secret_key, secret)
        self.check(wh, "/vec")

    def test_plain_secret_signs_with_its_bytes(self):
        # Not whsec_: the key is the secret's own bytes (DESIGN.md).
        wh = self.hook("/plain", secret_key="my own secret key, 32 chars long")
        self.check(wh, "/plain")

    def test_retries_are_signed_too(self):
        self.rx.sequence("/retry", [500, 200])
        wh = self.hook("/retry", asynchronous=True)
        self.trigger(b'{"signed":"\xe2\x9c\x93"}')
        reqs = self.rx.wait_for(2, "/retry", timeout=10)
        for req in reqs:
            rc, out = node_verify(wh.secret_key, req, wh.url, wh.name)
            self.assertEqual(rc, 0, out)


# ---------------------------------------------------------------------------------------------
class Sync(DeliveryCase):
    def test_result_fields(self):
        wh = self.hook("/ok")
        self.rx.answer("/ok", status=201, body=b"thanks", delay=0.3)
        r = self.trigger()
        self.assertEqual(len(r.results), 1, r)
        self.assertEqual(len(r.queued), 0, r)
        self.assertFalse(r.duplicate)
        s = r.results[0]
        self.assertEqual(s.webhook_id, wh.id)
        self.assertEqual(s.webhook_name, wh.name)
        self.assertEqual(s.outcome, pb.OUTCOME_SUCCEEDED)
        self.assertEqual(s.http_status, 201)
        self.assertGreaterEqual(s.duration_ms, 290)  # the receiver took 0.3 s
        self.assertLess(s.duration_ms, 5000)
        self.assertEqual(s.error, "")
        self.assertEqual(s.response_body, b"thanks")
        self.assertFalse(s.response_truncated)
        self.assertGreater(s.delivery_id, 0)
        d = self.delivery(s.delivery_id)
        self.assertEqual(d.state, pb.DELIVERY_STATE_SUCCEEDED)
        self.assertFalse(d.asynchronous)
        self.assertEqual(d.attempt_count, 1)
        self.assertEqual(len(self.rx.got("/ok")), 1)

    def test_http_error_result(self):
        self.hook("/err")
        self.rx.answer("/err", status=500, body=b"database down")
        s = self.trigger().results[0]
        self.assertEqual(s.outcome, pb.OUTCOME_HTTP_ERROR)
        self.assertEqual(s.http_status, 500)
        self.assertEqual(s.response_body, b"database down")
        self.assertIn("500", s.error)
        self.assertEqual(self.delivery(s.delivery_id).state, pb.DELIVERY_STATE_FAILED)
        # A synchronous webhook is called once: no retry follows.
        self.assertQuiet("/err", 1, 1.5)

    def test_response_body_cut_at_64k(self):
        self.hook("/big")
        body = bytes(range(256)) * 1024  # 256 KiB
        self.rx.answer("/big", body=body)
        s = self.trigger().results[0]
        self.assertEqual(s.outcome, pb.OUTCOME_SUCCEEDED)
        self.assertEqual(s.response_body, body[:65536])
        self.assertTrue(s.response_truncated)

    def test_timeout_answered_within_timeout_plus_100ms(self):
        self.hook("/slow", timeout_seconds=1)
        self.rx.answer("/slow", delay=3)
        self.stub.ListTriggerActions(pb.ListTriggerActionsRequest(), timeout=5)  # channel up
        t0 = time.monotonic()
        r = self.trigger()
        wall = time.monotonic() - t0
        s = r.results[0]
        self.assertEqual(s.outcome, pb.OUTCOME_TIMED_OUT, s)
        self.assertEqual(s.http_status, 0)
        self.assertNotEqual(s.error, "")
        # hookd's own measure of the transfer: the 1 s timeout, + 100 ms.
        self.assertGreaterEqual(s.duration_ms, 950)
        self.assertLessEqual(s.duration_ms, 1100)
        # The RPC as the caller sees it: 1 s + 100 ms + the client's allowance.
        self.assertGreaterEqual(wall, 0.95)
        self.assertLess(wall, 1.0 + 0.1 + CLIENT_ALLOWANCE_S, "TriggerEvent took %.3fs" % wall)
        # The transfer was aborted: the receiver saw its connection close.
        req = self.rx.wait_for(1, "/slow", timeout=1)[0]
        closed = self.rx.wait_closed(req, timeout=2)
        self.assertIsNotNone(closed, "hookd kept the timed-out connection open")

    def test_three_slow_hooks_take_the_longest_not_the_sum(self):
        for i in range(3):
            self.hook("/slow%d" % i)
            self.rx.answer("/slow%d" % i, delay=1.0)
        self.stub.ListTriggerActions(pb.ListTriggerActionsRequest(), timeout=5)
        t0 = time.monotonic()
        r = self.trigger()
        wall = time.monotonic() - t0
        self.assertEqual(len(r.results), 3, r)
        for s in r.results:
            self.assertEqual(s.outcome, pb.OUTCOME_SUCCEEDED, s)
        self.assertGreaterEqual(wall, 0.95)
        # Parallel: ~1 s. In series it would be 3 s.
        self.assertLess(wall, 1.6, "three 1 s receivers took %.3fs" % wall)
        arrivals = sorted(req.arrival for req in self.rx.got())
        self.assertLess(arrivals[-1] - arrivals[0], 0.5, "the calls did not start together")

    def test_caller_deadline_aborts_the_transfer(self):
        self.hook("/slow")
        self.rx.answer("/slow", delay=3)
        self.stub.ListTriggerActions(pb.ListTriggerActionsRequest(), timeout=5)
        t0 = time.monotonic()
        with self.assertRaises(grpc.RpcError) as cm:
            self.trigger(timeout=0.3)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        req = self.rx.wait_for(1, "/slow", timeout=2)[0]
        closed = self.rx.wait_closed(req, timeout=3)
        self.assertIsNotNone(closed, "the receiver's connection stayed open after the deadline")
        # "at once": the 0.3 s deadline + 100 ms (as for a webhook's own timeout) + the
        # client's allowance; the receiver would have answered after 3 s.
        self.assertLess(closed - t0, 0.3 + 0.1 + CLIENT_ALLOWANCE_S,
                        "connection closed %.3fs after the call" % (closed - t0))
        self.assertFalse(req.answered)

    def test_caller_cancel_aborts_the_transfer(self):
        self.hook("/slow")
        self.rx.answer("/slow", delay=3)
        fut = self.stub.TriggerEvent.future(pb.TriggerEventRequest(
            application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
            payload=b"{}"), timeout=30)
        req = self.rx.wait_for(1, "/slow", timeout=5)[0]
        t_cancel = time.monotonic()
        self.assertTrue(fut.cancel())
        closed = self.rx.wait_closed(req, timeout=3)
        self.assertIsNotNone(closed, "the receiver's connection stayed open after the cancel")
        self.assertLess(closed - t_cancel, 0.1 + CLIENT_ALLOWANCE_S,
                        "connection closed %.3fs after the cancel" % (closed - t_cancel))

    def test_aborted_call_is_logged_as_cancelled(self):
        wh = self.hook("/slow")
        self.rx.answer("/slow", delay=3)
        with self.assertRaises(grpc.RpcError):
            self.trigger(timeout=0.3)
        end = time.monotonic() + 5
        while True:
            ds = self.stub.ListDeliveries(pb.ListDeliveriesRequest(webhook_id=wh.id)).deliveries
            if ds and ds[0].state != pb.DELIVERY_STATE_PENDING:
                break
            self.assertLess(time.monotonic(), end, "no finished delivery logged: %s" % ds)
            time.sleep(0.05)
        self.assertEqual(len(ds), 1, ds)
        d = self.delivery(ds[0].id)
        self.assertEqual(d.state, pb.DELIVERY_STATE_FAILED, d)
        self.assertEqual(d.attempts[-1].outcome, pb.OUTCOME_CANCELLED, d)
        self.assertQuiet("/slow", 1, 1.0)  # not retried

    def test_redirect_is_not_followed(self):
        self.hook("/redir")
        for code in (301, 302, 303, 307, 308):
            with self.subTest(status=code):
                self.rx.answer("/redir", status=code, location=self.rx.url("/target"))
                s = self.trigger().results[0]
                self.assertEqual(s.outcome, pb.OUTCOME_HTTP_ERROR)
                self.assertEqual(s.http_status, code)
        time.sleep(0.3)
        self.assertEqual(self.rx.got("/target"), [])
        self.assertEqual(len(self.rx.got("/redir")), 5)

    def test_inactive_webhook_is_skipped(self):
        on = self.hook("/on")
        off = self.hook("/off", active=False)
        r = self.trigger()
        self.assertEqual([s.webhook_id for s in r.results], [on.id])
        self.stub.UpdateWebhook(pb.UpdateWebhookRequest(id=on.id, active=False))
        self.stub.UpdateWebhook(pb.UpdateWebhookRequest(id=off.id, active=True))
        r = self.trigger()
        self.assertEqual([s.webhook_id for s in r.results], [off.id])
        self.assertEqual(len(self.rx.got("/on")), 1)
        self.assertEqual(len(self.rx.got("/off")), 1)

    def test_ignore_for_api_skips_api_origin_only(self):
        always = self.hook("/always")
        users = self.hook("/users", ignore_for_api=True)
        queued_users = self.hook("/users-async", ignore_for_api=True, asynchronous=True)
        r = self.trigger(origin=pb.ORIGIN_API)
        self.assertEqual([s.webhook_id for s in r.results], [always.id])
        self.assertEqual(len(r.queued), 0, r)
        r = self.trigger(origin=pb.ORIGIN_USER)
        self.assertEqual(sorted(s.webhook_id for s in r.results), sorted([always.id, users.id]))
        self.assertEqual([q.webhook_id for q in r.queued], [queued_users.id])
        self.rx.wait_for(1, "/users-async", timeout=5)
        self.assertEqual(len(self.rx.got("/always")), 2)
        self.assertEqual(len(self.rx.got("/users")), 1)
        self.assertQuiet("/users-async", 1, 0.5)

    def test_only_the_application_and_action_match(self):
        mine = self.hook("/mine")
        self.hook("/other-action", trigger_action="AccountCreated")
        self.hook("/other-app", application=pb.APPLICATION_ELITE)  # Elite's AccountUpdated
        r = self.trigger()
        self.assertEqual([s.webhook_id for s in r.results], [mine.id])
        r = self.trigger(trigger_action="BookingCreated")
        self.assertEqual(len(r.results) + len(r.queued), 0, r)
        time.sleep(0.3)
        self.assertEqual([q.path for q in self.rx.got()], ["/mine"])

    def test_sync_and_async_answered_apart(self):
        s = self.hook("/s")
        a = self.hook("/a", asynchronous=True)
        r = self.trigger()
        self.assertEqual([x.webhook_id for x in r.results], [s.id])
        self.assertEqual(len(r.queued), 1, r)
        self.assertEqual(r.queued[0].webhook_id, a.id)
        self.assertEqual(r.queued[0].webhook_name, a.name)
        self.assertGreater(r.queued[0].delivery_id, 0)
        self.assertNotEqual(r.queued[0].delivery_id, r.results[0].delivery_id)
        self.rx.wait_for(1, "/a", timeout=5)
        self.wait_state(r.queued[0].delivery_id, pb.DELIVERY_STATE_SUCCEEDED)

    def test_idempotent_event_id(self):
        self.hook("/idem")
        self.rx.answer("/idem", status=202, body=b"first")
        first = self.trigger(event_id="evt-idem-1")
        self.assertFalse(first.duplicate)
        self.rx.answer("/idem", status=500, body=b"second")
        again = self.trigger(event_id="evt-idem-1")
        self.assertTrue(again.duplicate)
        self.assertEqual(again.event_id, "evt-idem-1")
        self.assertEqual(list(again.results), list(first.results))  # the first answer
        self.assertEqual(again.results[0].http_status, 202)
        # A different payload under the same id is still the same event.
        third = self.trigger(b'{"other":true}', event_id="evt-idem-1")
        self.assertTrue(third.duplicate)
        self.assertEqual(list(third.results), list(first.results))
        self.assertQuiet("/idem", 1, 0.5)
        # Another id is a new event.
        self.assertFalse(self.trigger(event_id="evt-idem-2").duplicate)
        self.assertEqual(len(self.rx.wait_for(2, "/idem", timeout=5)), 2)

    def test_receiver_that_does_not_speak_http(self):
        self.hook("/drop")
        self.hook("/garbage")
        self.rx.answer("/drop", drop=True)
        self.rx.answer("/garbage", raw=b"SSH-2.0-OpenSSH_9.2\r\n")
        r = self.trigger()
        self.assertEqual(len(r.results), 2)
        for s in r.results:
            self.assertEqual(s.outcome, pb.OUTCOME_NETWORK_ERROR, s)
            self.assertEqual(s.http_status, 0)
            self.assertNotEqual(s.error, "")

    def test_trigger_request_fields_are_checked(self):
        self.hook("/fields")
        cases = [
            ("application", dict(application=pb.APPLICATION_UNSPECIFIED)),
            ("application", dict(application=9)),
            ("trigger_action", dict(trigger_action="")),
            ("trigger_action", dict(trigger_action="NoSuchAction")),
            ("trigger_action", dict(trigger_action="ContractSigned")),  # Elite's only
            ("event_id", dict(event_id="x" * 201)),
            ("event_id", dict(event_id="line\nbreak")),
        ]
        for field, kw in cases:
            with self.subTest(field=field, value=kw):
                e = self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT, self.trigger, **kw)
                self.assertTrue(e.details().startswith(field + ":"), e.details())
        self.assertEqual(self.rx.got(), [])
        self.assertEqual(self.trigger(event_id="x" * 200).event_id, "x" * 200)

    def test_keep_alive_reuses_the_connection(self):
        self.hook("/ka")
        for _ in range(3):
            self.assertEqual(self.trigger().results[0].outcome, pb.OUTCOME_SUCCEEDED)
        reqs = self.rx.wait_for(3, "/ka", timeout=5)
        self.assertEqual(len({q.conn_id for q in reqs}), 1, "a new connection per request")

    def test_concurrent_repeats_of_one_event_id_deliver_once(self):
        self.hook("/rep")
        self.rx.answer("/rep", delay=0.5, body=b"only once")
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: self.trigger(event_id="same-evt"), range(6)))
        firsts = [a for a in answers if not a.duplicate]
        self.assertEqual(len(firsts), 1, answers)
        for a in answers:
            self.assertEqual(list(a.results), list(firsts[0].results))
        self.assertEqual(firsts[0].results[0].response_body, b"only once")
        self.assertQuiet("/rep", 1, 0.5)

    def test_invalid_json_payload(self):
        wh = self.hook("/json")
        for bad in (b"{", b"not json", b'{"a":1} x', b"{'a':1}", b'"\xff"', b"[1,]",
                    b'{"a":01}', b"NaN"):
            with self.subTest(payload=bad):
                e = self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT, self.trigger, bad)
                self.assertIn("payload", e.details())
        time.sleep(0.3)
        self.assertEqual(self.rx.got(), [])
        ds = self.stub.ListDeliveries(pb.ListDeliveriesRequest(webhook_id=wh.id)).deliveries
        self.assertEqual(len(ds), 0, ds)

    def test_payload_over_the_default_limit(self):
        self.hook("/big")
        head, tail = b'{"blob":"', b'"}'
        exact = head + b"a" * (1048576 - len(head) - len(tail)) + tail
        self.assertEqual(len(exact), 1 << 20)
        r = self.trigger(exact)
        self.assertEqual(r.results[0].outcome, pb.OUTCOME_SUCCEEDED, r.results[0])
        got = self.rx.wait_for(1, "/big", timeout=5)[0]
        self.assertEqual(len(self.envelope(got)["data"]["blob"]), len(exact) - 11)
        over = head + b"a" * (1048577 - len(head) - len(tail)) + tail
        self.assertStatus(grpc.StatusCode.RESOURCE_EXHAUSTED, self.trigger, over)
        self.assertQuiet("/big", 1, 0.3)


class PayloadLimit(DeliveryCase):
    config = "max_payload_bytes = 1024\n"

    def test_payload_over_the_configured_limit(self):
        self.hook("/limit")
        exact = b'{"p":"' + b"a" * (1024 - 8) + b'"}'
        self.assertEqual(len(exact), 1024)
        self.assertEqual(self.trigger(exact).results[0].outcome, pb.OUTCOME_SUCCEEDED)
        over = b'{"p":"' + b"a" * (1025 - 8) + b'"}'
        e = self.assertStatus(grpc.StatusCode.RESOURCE_EXHAUSTED, self.trigger, over)
        self.assertIn("payload", e.details())
        self.assertQuiet("/limit", 1, 0.3)


class TransferCap(DeliveryCase):
    config = "max_transfers = 2\n"

    def test_transfers_in_flight_are_capped(self):
        for i in range(4):
            self.hook("/cap%d" % i)
            self.rx.answer("/cap%d" % i, delay=0.5)
        self.stub.ListTriggerActions(pb.ListTriggerActionsRequest(), timeout=5)
        t0 = time.monotonic()
        r = self.trigger()
        wall = time.monotonic() - t0
        self.assertEqual([s.outcome for s in r.results], [pb.OUTCOME_SUCCEEDED] * 4)
        self.assertEqual(self.rx.max_in_flight, 2)  # two at a time, and not one
        self.assertGreaterEqual(wall, 0.95)         # two rounds of 0.5 s
        self.assertLess(wall, 1.6)


class IdempotencyWindow(DeliveryCase):
    config = "idempotency_window = 1\n"

    def test_event_id_is_new_again_after_the_window(self):
        self.hook("/win")
        self.assertFalse(self.trigger(event_id="w-1").duplicate)
        self.assertTrue(self.trigger(event_id="w-1").duplicate)
        time.sleep(1.3)
        self.assertFalse(self.trigger(event_id="w-1").duplicate)
        self.assertEqual(len(self.rx.wait_for(2, "/win", timeout=5)), 2)
        self.assertQuiet("/win", 2, 0.3)


# ---------------------------------------------------------------------------------------------
class Async(DeliveryCase):
    # 5 attempts, 1 s (±20 % jitter) apart; Retry-After capped at 3 s.
    config = "retry_schedule = 0,1,1,1,1\nretry_after_max = 3\n"

    def test_retried_after_500s_until_success(self):
        self.rx.sequence("/r", "500,500,200")
        wh = self.hook("/r", asynchronous=True)
        r = self.trigger()
        self.assertEqual(len(r.results), 0, r)
        self.assertEqual(len(r.queued), 1, r)
        did = r.queued[0].delivery_id
        reqs = self.rx.wait_for(3, "/r", timeout=15)
        d = self.wait_state(did, pb.DELIVERY_STATE_SUCCEEDED)
        self.assertEqual(d.webhook_id, wh.id)
        self.assertTrue(d.asynchronous)
        self.assertEqual(d.attempt_count, 3)
        self.assertEqual([a.http_status for a in d.attempts], [500, 500, 200])
        self.assertEqual([a.outcome for a in d.attempts],
                         [pb.OUTCOME_HTTP_ERROR, pb.OUTCOME_HTTP_ERROR, pb.OUTCOME_SUCCEEDED])
        self.assertEqual(d.next_attempt_time, 0)
        # Every attempt carries the same event.
        self.assertEqual({q.headers["webhook-id"] for q in reqs}, {r.event_id})
        self.assertEqual(len({q.body for q in reqs}), 1)
        # 1 s apart, -20 % jitter at most (0.8 s), less a little for the clocks.
        for a, b in zip(reqs, reqs[1:]):
            self.assertGreaterEqual(b.arrival - a.arrival, 0.7)
        times = [a.time for a in d.attempts]
        self.assertEqual(times, sorted(times))
        self.assertQuiet("/r", 3, 1.5)

    def test_gives_up_after_the_schedule(self):
        self.rx.answer("/fail", status=503, body=b"later")
        self.hook("/fail", asynchronous=True)
        did = self.trigger().queued[0].delivery_id
        d = self.wait_state(did, pb.DELIVERY_STATE_FAILED, timeout=20)
        self.assertEqual(d.attempt_count, 5)  # one per entry of retry_schedule
        self.assertEqual(len(d.attempts), 5)
        self.assertEqual(d.next_attempt_time, 0)
        self.assertEqual(d.attempts[0].response_body, b"later")
        self.assertQuiet("/fail", 5, 1.5)

    def test_pending_delivery_shows_its_next_attempt(self):
        self.rx.answer("/p", status=500)
        self.hook("/p", asynchronous=True)
        did = self.trigger().queued[0].delivery_id
        self.rx.wait_for(1, "/p", timeout=5)
        d = self.wait_delivery(did, lambda d: d.attempt_count >= 1, 5, "first attempt")
        self.assertEqual(d.state, pb.DELIVERY_STATE_PENDING)
        # Next in 1 s ±20 %, counted from the end of the first attempt.
        self.assertGreater(d.next_attempt_time, d.attempts[0].time + 700)
        self.assertLess(d.next_attempt_time, now_ms() + 1500)

    def check_retry_after(self, status):
        self.rx.sequence("/ra", [dict(status=status, retry_after=2), 200])
        self.hook("/ra", asynchronous=True)
        did = self.trigger().queued[0].delivery_id
        reqs = self.rx.wait_for(2, "/ra", timeout=10)
        gap = reqs[1].arrival - reqs[0].arrival
        # The schedule says 1 s (at most 1.2 s with jitter); the receiver asked for 2 s.
        self.assertGreaterEqual(gap, 1.9, "retried %.3fs after Retry-After: 2" % gap)
        self.assertLess(gap, 2 + 1.5)
        d = self.wait_state(did, pb.DELIVERY_STATE_SUCCEEDED)
        self.assertEqual(d.attempts[0].http_status, status)

    def test_retry_after_on_429(self):
        self.check_retry_after(429)

    def test_retry_after_on_503(self):
        self.check_retry_after(503)

    def test_retry_after_is_bounded_by_retry_after_max(self):
        self.rx.sequence("/cap", [dict(status=429, retry_after=3600), 200])
        self.hook("/cap", asynchronous=True)
        did = self.trigger().queued[0].delivery_id
        reqs = self.rx.wait_for(2, "/cap", timeout=10)
        gap = reqs[1].arrival - reqs[0].arrival
        self.assertLess(gap, 3 + 1.5, "retry_after_max = 3 but retried after %.3fs" % gap)
        self.wait_state(did, pb.DELIVERY_STATE_SUCCEEDED)

    def test_retry_after_ignored_on_other_statuses(self):
        self.rx.sequence("/ra500", [dict(status=500, retry_after=3), 200])
        self.hook("/ra500", asynchronous=True)
        self.trigger()
        reqs = self.rx.wait_for(2, "/ra500", timeout=10)
        gap = reqs[1].arrival - reqs[0].arrival
        # The schedule's 1 s (+20 % at most), not the 3 s a 500 asked for.
        self.assertLess(gap, 2.0, "a 500's Retry-After was honoured: %.3fs" % gap)

    def test_timeout_is_an_attempt_error_and_retried(self):
        self.rx.sequence("/aslow", [dict(delay=2.5), 200])
        self.hook("/aslow", asynchronous=True, timeout_seconds=1)
        did = self.trigger().queued[0].delivery_id
        d = self.wait_state(did, pb.DELIVERY_STATE_SUCCEEDED)
        self.assertEqual([a.outcome for a in d.attempts],
                         [pb.OUTCOME_TIMED_OUT, pb.OUTCOME_SUCCEEDED])
        self.assertEqual(d.attempts[0].http_status, 0)
        self.assertNotEqual(d.attempts[0].error, "")
        self.assertGreaterEqual(d.attempts[0].duration_ms, 950)
        self.assertLessEqual(d.attempts[0].duration_ms, 1100)

    def test_new_secret_signs_the_next_delivery(self):
        wh = self.hook("/rot", asynchronous=True)
        self.trigger(event_id="before-rotation")
        old = self.rx.wait_for(1, "/rot", timeout=5)[0]
        new_secret = self.stub.UpdateWebhook(
            pb.UpdateWebhookRequest(id=wh.id, secret_key="")).secret_key
        self.assertNotEqual(new_secret, wh.secret_key)
        self.trigger(event_id="after-rotation")
        new = self.rx.wait_for(2, "/rot", timeout=5)[1]
        self.assertEqual(new.headers["webhook-id"], "after-rotation")
        self.assertEqual(node_verify(wh.secret_key, old, wh.url, wh.name)[0], 0)
        self.assertEqual(node_verify(new_secret, new, wh.url, wh.name)[0], 0)
        self.assertNotEqual(node_verify(wh.secret_key, new, wh.url, wh.name)[0], 0)

    def test_410_deactivates_the_webhook(self):
        self.rx.answer("/gone", status=410)
        wh = self.hook("/gone", asynchronous=True)
        did = self.trigger().queued[0].delivery_id
        self.rx.wait_for(1, "/gone", timeout=5)
        end = time.monotonic() + 5
        while self.stub.GetWebhook(pb.GetWebhookRequest(id=wh.id)).active:
            self.assertLess(time.monotonic(), end, "still active after 410 Gone")
            time.sleep(0.05)
        d = self.wait_delivery(did, lambda d: d.attempt_count >= 1, 5, "attempt")
        self.assertEqual(d.attempts[0].http_status, 410)
        self.assertEqual(d.attempts[0].outcome, pb.OUTCOME_HTTP_ERROR)
        # Not retried, and no longer matched.
        r = self.trigger()
        self.assertEqual(len(r.queued) + len(r.results), 0, r)
        self.assertQuiet("/gone", 1, 2.0)

    def test_410_deactivates_a_synchronous_webhook_too(self):
        self.rx.answer("/gone-sync", status=410)
        wh = self.hook("/gone-sync")
        r = self.trigger()
        self.assertEqual(r.results[0].http_status, 410)
        self.assertEqual(r.results[0].outcome, pb.OUTCOME_HTTP_ERROR)
        self.assertFalse(self.stub.GetWebhook(pb.GetWebhookRequest(id=wh.id)).active)
        r = self.trigger()
        self.assertEqual(len(r.queued) + len(r.results), 0, r)
        self.assertQuiet("/gone-sync", 1, 0.5)

    def test_inactive_webhooks_deliveries_wait_until_it_is_activated(self):
        self.rx.answer("/wait", status=500)
        wh = self.hook("/wait", asynchronous=True)
        did = self.trigger().queued[0].delivery_id
        self.rx.wait_for(1, "/wait", timeout=5)
        self.stub.UpdateWebhook(pb.UpdateWebhookRequest(id=wh.id, active=False))
        t_off = time.monotonic()
        self.rx.answer("/wait", status=200)
        time.sleep(3.0)  # three retry intervals
        late = [q for q in self.rx.got("/wait") if q.arrival > t_off]
        self.assertEqual(late, [], "delivered to an inactive webhook")
        d = self.delivery(did)
        self.assertEqual(d.state, pb.DELIVERY_STATE_PENDING, d)
        self.stub.UpdateWebhook(pb.UpdateWebhookRequest(id=wh.id, active=True))
        self.rx.wait_for(2, "/wait", timeout=5)
        self.wait_state(did, pb.DELIVERY_STATE_SUCCEEDED, timeout=5)

    def test_delete_cancels_pending_deliveries(self):
        self.rx.answer("/del", status=500)
        wh = self.hook("/del", asynchronous=True)
        dids = [self.trigger().queued[0].delivery_id for _ in range(3)]
        self.rx.wait_for(3, "/del", timeout=5)
        self.stub.DeleteWebhook(pb.DeleteWebhookRequest(id=wh.id))
        t_del = time.monotonic()
        self.rx.answer("/del", status=200)
        time.sleep(3.0)
        late = [q for q in self.rx.got("/del") if q.arrival > t_del]
        self.assertEqual(late, [], "delivered after the webhook was deleted")
        for did in dids:
            try:
                d = self.delivery(did)
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.NOT_FOUND, e.details())
            else:
                self.assertEqual(d.state, pb.DELIVERY_STATE_CANCELLED, d)
                self.assertEqual(d.next_attempt_time, 0)
        pending = self.stub.ListDeliveries(
            pb.ListDeliveriesRequest(state=pb.DELIVERY_STATE_PENDING)).deliveries
        self.assertEqual([p.id for p in pending if p.id in dids], [])

    def test_idempotent_event_id(self):
        self.rx.answer("/once", status=200)
        self.hook("/once", asynchronous=True)
        first = self.trigger(event_id="async-evt-1")
        again = self.trigger(event_id="async-evt-1")
        self.assertFalse(first.duplicate)
        self.assertTrue(again.duplicate)
        self.assertEqual(list(again.queued), list(first.queued))
        req = self.rx.wait_for(1, "/once", timeout=5)[0]
        self.assertEqual(req.headers["webhook-id"], "async-evt-1")
        self.assertQuiet("/once", 1, 1.5)

    def test_connection_refused_is_an_attempt_error(self):
        closed = receiver.ClosedPort()
        self.addCleanup(closed.release)
        self.hook(url=closed.url("/nobody"), asynchronous=True)
        did = self.trigger().queued[0].delivery_id
        d = self.wait_delivery(did, lambda d: d.attempt_count >= 1, 5, "attempt")
        a = d.attempts[0]
        self.assertEqual(a.outcome, pb.OUTCOME_NETWORK_ERROR, a)
        self.assertEqual(a.http_status, 0)
        self.assertRegex(a.error.lower(), "refused|connect", a.error)
        self.assertEqual(d.state, pb.DELIVERY_STATE_PENDING)  # retried later

    def test_connection_refused_sync_result(self):
        closed = receiver.ClosedPort()
        self.addCleanup(closed.release)
        self.hook(url=closed.url("/nobody"))
        s = self.trigger().results[0]
        self.assertEqual(s.outcome, pb.OUTCOME_NETWORK_ERROR, s)
        self.assertEqual(s.http_status, 0)
        self.assertRegex(s.error.lower(), "refused|connect", s.error)
        d = self.delivery(s.delivery_id)
        self.assertEqual(d.attempts[0].outcome, pb.OUTCOME_NETWORK_ERROR)
        self.assertEqual(d.attempts[0].error, s.error)

    def test_fifty_events_all_arrive(self):
        self.hook("/many", asynchronous=True)
        ids = ["many-%02d" % i for i in range(50)]

        def one(eid):
            return self.trigger(b'{"n":"%s"}' % eid.encode(), event_id=eid)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(one, ids))
        self.assertTrue(all(len(a.queued) == 1 for a in answers))
        self.assertEqual(len({a.queued[0].delivery_id for a in answers}), 50)
        end = time.monotonic() + 30
        while True:
            got = {q.headers["webhook-id"] for q in self.rx.got("/many")}
            if got >= set(ids):
                break
            self.assertLess(time.monotonic(), end, "missing: %s" % sorted(set(ids) - got))
            time.sleep(0.05)
        self.assertEqual(got, set(ids))  # nothing else
        for q in self.rx.got("/many"):
            env = self.envelope(q)
            self.assertEqual(env["id"], q.headers["webhook-id"])
            self.assertEqual(env["data"], {"n": env["id"]})
        # At least once: a duplicate is allowed, but the log says each succeeded.
        end = time.monotonic() + 10
        while True:
            done = self.stub.ListDeliveries(pb.ListDeliveriesRequest(
                state=pb.DELIVERY_STATE_SUCCEEDED, page_size=1000)).deliveries
            if len(done) >= 50:
                break
            self.assertLess(time.monotonic(), end, "%d of 50 logged as succeeded" % len(done))
            time.sleep(0.05)
        self.assertEqual({d.event_id for d in done}, set(ids))


# ---------------------------------------------------------------------------------------------
class Log(DeliveryCase):
    def setUp(self):
        super().setUp()
        self.a = self.hook("/a")
        self.b = self.hook("/b", trigger_action="AccountCreated")
        self.rx.answer("/a", status=200, body=b"x" * 5000)
        self.rx.answer("/b", status=500, body=b"nope")
        self.a_ids, self.b_ids = [], []
        self.t0 = now_ms()
        for i in range(3):
            r = self.trigger(b'{"a":%d}' % i)
            self.a_ids.append(r.results[0].delivery_id)
            time.sleep(0.01)
            if i < 2:
                r = self.trigger(b'{"b":%d}' % i, trigger_action="AccountCreated",
                                 origin=pb.ORIGIN_API, event_id="b-event-%d" % i)
                self.b_ids.append(r.results[0].delivery_id)
                time.sleep(0.01)
        self.all_ids = self.a_ids + self.b_ids

    def list(self, **kw):
        return self.stub.ListDeliveries(pb.ListDeliveriesRequest(**kw), timeout=10)

    def test_list_by_webhook(self):
        ds = self.list(webhook_id=self.a.id).deliveries
        self.assertEqual([d.id for d in ds], list(reversed(self.a_ids)))  # newest first
        self.assertTrue(all(d.webhook_id == self.a.id for d in ds))
        self.assertTrue(all(d.state == pb.DELIVERY_STATE_SUCCEEDED for d in ds))
        ds = self.list(webhook_name=self.b.name).deliveries
        self.assertEqual([d.id for d in ds], list(reversed(self.b_ids)))
        self.assertEqual([d.event_id for d in ds], ["b-event-1", "b-event-0"])
        for d in ds:
            self.assertEqual(d.webhook_name, self.b.name)
            self.assertEqual(d.state, pb.DELIVERY_STATE_FAILED)
            self.assertEqual(d.trigger_action, "AccountCreated")
            self.assertEqual(d.origin, pb.ORIGIN_API)
            self.assertEqual(d.attempt_count, 1)
            self.assertEqual(len(d.attempts), 0)  # GetDelivery only
            self.assertEqual(d.payload, b"")      # GetDelivery only
        everything = self.list().deliveries
        self.assertEqual(sorted(d.id for d in everything), sorted(self.all_ids))
        times = [d.create_time for d in everything]
        self.assertEqual(times, sorted(times, reverse=True))

    def test_list_by_state(self):
        failed = self.list(state=pb.DELIVERY_STATE_FAILED).deliveries
        self.assertEqual(sorted(d.id for d in failed), sorted(self.b_ids))
        ok = self.list(state=pb.DELIVERY_STATE_SUCCEEDED).deliveries
        self.assertEqual(sorted(d.id for d in ok), sorted(self.a_ids))
        self.assertEqual(len(self.list(state=pb.DELIVERY_STATE_PENDING).deliveries), 0)
        both = self.list(webhook_id=self.a.id, state=pb.DELIVERY_STATE_FAILED).deliveries
        self.assertEqual(len(both), 0)

    def test_paging(self):
        seen, token, pages = [], "", []
        while True:
            resp = self.list(page_size=2, page_token=token)
            pages.append(len(resp.deliveries))
            seen += [d.id for d in resp.deliveries]
            token = resp.next_page_token
            if not token:
                break
            self.assertLess(len(pages), 10, "paging does not end")
        self.assertEqual(pages, [2, 2, 1])
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(seen, [d.id for d in self.list().deliveries])  # same order as one page
        ids = [d.id for d in self.list(webhook_id=self.a.id, page_size=2).deliveries]
        self.assertEqual(ids, list(reversed(self.a_ids))[:2])

    def test_list_refusals(self):
        self.assertStatus(grpc.StatusCode.NOT_FOUND, self.list, webhook_name="nobody has this")
        self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT, self.list, page_token="garbage")
        # A deleted webhook's log stays readable by id.
        self.stub.DeleteWebhook(pb.DeleteWebhookRequest(id=self.a.id))
        self.assertEqual(sorted(d.id for d in self.list(webhook_id=self.a.id).deliveries),
                         sorted(self.a_ids))

    def test_get_delivery_with_attempts(self):
        d = self.delivery(self.a_ids[1])
        self.assertEqual(d.id, self.a_ids[1])
        self.assertEqual(d.webhook_id, self.a.id)
        self.assertEqual(d.webhook_name, self.a.name)
        self.assertEqual(d.application, pb.APPLICATION_ENTERPRISE)
        self.assertEqual(d.trigger_action, "AccountUpdated")
        self.assertEqual(d.origin, pb.ORIGIN_USER)
        self.assertFalse(d.asynchronous)
        self.assertEqual(d.state, pb.DELIVERY_STATE_SUCCEEDED)
        self.assertEqual(d.payload, b'{"a":1}')
        self.assertEqual(d.next_attempt_time, 0)
        self.assertGreaterEqual(d.create_time, self.t0 - 1000)
        self.assertEqual(d.attempt_count, 1)
        self.assertEqual(len(d.attempts), 1)
        a = d.attempts[0]
        self.assertGreaterEqual(a.time, d.create_time - 1000)
        self.assertLessEqual(a.time, now_ms() + 1000)
        self.assertEqual(a.outcome, pb.OUTCOME_SUCCEEDED)
        self.assertEqual(a.http_status, 200)
        self.assertLess(a.duration_ms, 10000)
        self.assertEqual(a.error, "")
        self.assertEqual(a.response_body, b"x" * 4096)  # the first 4 KiB
        req = [q for q in self.rx.got("/a") if self.envelope(q)["data"] == {"a": 1}][0]
        self.assertEqual(d.event_id, req.headers["webhook-id"])
        b = self.delivery(self.b_ids[0])
        self.assertEqual(b.attempts[0].outcome, pb.OUTCOME_HTTP_ERROR)
        self.assertEqual(b.attempts[0].http_status, 500)
        self.assertEqual(b.attempts[0].response_body, b"nope")
        self.assertNotEqual(b.attempts[0].error, "")
        self.assertStatus(grpc.StatusCode.NOT_FOUND, self.delivery, 987654321)

    def test_redeliver(self):
        old = self.delivery(self.b_ids[0])
        self.rx.answer("/b", status=200)
        new = self.stub.RedeliverDelivery(pb.RedeliverDeliveryRequest(id=old.id), timeout=10)
        self.assertNotEqual(new.id, old.id)
        self.assertNotIn(new.id, self.all_ids)
        self.assertEqual(new.webhook_id, self.b.id)
        self.assertEqual(new.event_id, "b-event-0")
        self.assertTrue(new.asynchronous)
        self.assertIn(new.state, (pb.DELIVERY_STATE_PENDING, pb.DELIVERY_STATE_SUCCEEDED))
        reqs = self.rx.wait_for(3, "/b", timeout=10)
        env = self.envelope(reqs[-1])
        self.assertEqual(env["id"], "b-event-0")
        self.assertEqual(env["data"], {"b": 0})
        self.assertEqual(reqs[-1].headers["webhook-id"], "b-event-0")
        d = self.wait_state(new.id, pb.DELIVERY_STATE_SUCCEEDED)
        self.assertEqual(d.payload, old.payload)
        self.assertEqual(self.delivery(old.id).state, pb.DELIVERY_STATE_FAILED)  # unchanged
        self.assertIn(new.id, [x.id for x in self.list(webhook_id=self.b.id).deliveries])
        self.assertStatus(grpc.StatusCode.NOT_FOUND, self.stub.RedeliverDelivery,
                          pb.RedeliverDeliveryRequest(id=987654321))


class PruneByCount(DeliveryCase):
    config = "log_max_count = 3\n"

    def test_log_pruned_to_the_newest(self):
        self.hook("/n")
        ids = [self.trigger().results[0].delivery_id for _ in range(7)]
        # hookd prunes 1 s after it starts, then every 10 s.
        end = time.monotonic() + 15
        while True:
            left = [d.id for d in self.stub.ListDeliveries(
                pb.ListDeliveriesRequest(page_size=1000)).deliveries]
            if len(left) <= 3:
                break
            self.assertLess(time.monotonic(), end, "still %d deliveries logged" % len(left))
            time.sleep(0.1)
        self.assertEqual(left, list(reversed(ids[-3:])))
        self.assertStatus(grpc.StatusCode.NOT_FOUND, self.delivery, ids[0])


class PruneByAge(DeliveryCase):
    config = "log_max_age = 1\nretry_schedule = 0,600\n"

    def test_finished_deliveries_pruned_pending_kept(self):
        self.rx.answer("/pending", status=500)
        self.hook("/pending", asynchronous=True, trigger_action="AccountCreated")
        pending = self.trigger(trigger_action="AccountCreated").queued[0].delivery_id
        self.rx.wait_for(1, "/pending", timeout=5)
        self.hook("/done")
        done = [self.trigger().results[0].delivery_id for _ in range(2)]
        end = time.monotonic() + 25
        while True:
            left = {d.id for d in self.stub.ListDeliveries(
                pb.ListDeliveriesRequest(page_size=1000)).deliveries}
            if not left & set(done):
                break
            self.assertLess(time.monotonic(), end, "finished deliveries older than 1 s kept")
            time.sleep(0.2)
        self.assertEqual(left, {pending})
        d = self.delivery(pending)
        self.assertEqual(d.state, pb.DELIVERY_STATE_PENDING)
        self.assertEqual(d.attempt_count, 1)


# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
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
        d = self.wait_delivery(did, lambda d: d.attempt_count >= 1, 5, "attempt")
        self.assertEqual(d.attempts[0].outcome, pb.OUTCOME_REFUSED, d)
        self.assertIn("127.0.0.2", d.attempts[0].error)
        self.assertEqual(self.rx2.got(), [])

    def test_metadata_address_refused_by_default(self):
        self.hook(url="https://169.254.169.254:%d/latest" % self.rx.port, timeout_seconds=2)
        s = self.trigger().results[0]
        self.assertEqual(s.outcome, pb.OUTCOME_REFUSED, s)
        self.assertIn("169.254.169.254", s.error)


# ---------------------------------------------------------------------------------------------
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
        d = self.wait_delivery(did, lambda d: d.attempt_count >= 1, 5, "attempt")
        self.assertEqual(d.attempts[0].outcome, pb.OUTCOME_NETWORK_ERROR, d)
        self.assertNotEqual(d.attempts[0].error, "")
        self.assertEqual(self.badtls.got(), [])


if __name__ == "__main__":
    unittest.main()
