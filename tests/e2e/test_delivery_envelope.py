"""test_delivery_envelope.py -- what a receiver gets from TriggerEvent: the envelope, its headers,
and signatures checked by stock npm libraries (node/verify.js), end to end (the real hookd
delivering to real HTTP(S) receivers on loopback, receiver.py; helpers and timing rules in
delivery.py).
"""
import base64
import datetime
import json
import time
import unittest

from harness import pb
import receiver
from delivery import DeliveryCase, node_verify, RFC3339_UTC


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


if __name__ == "__main__":
    unittest.main()
