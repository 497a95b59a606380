"""test_robustness.py -- bad input never crashes hookd, hangs it or corrupts its store.

Every RPC gets random bytes and mutations of valid requests as its request
message (sent with grpcio's raw-bytes calls). Each answer must be a clear
status (never INTERNAL, UNKNOWN or UNAVAILABLE), hookd must keep serving,
and what was stored before must read back unchanged, also after a restart.
Deterministic: a fixed seed."""
import random
import unittest

import grpc

import harness
from harness import pb

SERVICE = "/hookd.v1.Webhooks/"
# Statuses a bad request may get; anything else (INTERNAL, UNKNOWN,
# UNAVAILABLE, ...) means hookd failed, not the caller.
CLEAR = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
         grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION,
         grpc.StatusCode.RESOURCE_EXHAUSTED}


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        if op == 0 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == 1:
            data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
        elif op == 2 and data:
            del data[rng.randrange(len(data))]
        else:
            data = data[:rng.randrange(len(data) + 1)]
    return bytes(data)


class Robustness(harness.HookdTestCase):
    def raw(self, method):
        return self.hookd.channel().unary_unary(
            SERVICE + method, request_serializer=None, response_deserializer=None)

    def fuzz(self, seeds, rounds):
        """seeds: {method: [valid request messages]}; returns the count of calls."""
        rng = random.Random(20261127)
        calls = 0
        for method, msgs in seeds.items():
            call = self.raw(method)
            valid = [m.SerializeToString() for m in msgs]
            for i in range(rounds):
                if i % 4 == 0:
                    body = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
                else:
                    body = mutate(rng, rng.choice(valid))
                try:
                    call(body, timeout=10)
                except grpc.RpcError as e:
                    self.assertIn(e.code(), CLEAR, "%s(%r): %s %s" % (
                        method, body, e.code(), e.details()))
                    self.assertTrue(e.details(), "%s(%r): no message" % (method, body))
                calls += 1
        return calls

    def test_webhook_rpcs_survive_bad_requests(self):
        keep = self.stub.CreateWebhook(pb.CreateWebhookRequest(
            name="keep", application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
            url="https://127.0.0.1:1/keep", description="must survive"))
        wh = dict(name="fuzz", application=pb.APPLICATION_ELITE, trigger_action="OrderCreated",
                  url="https://127.0.0.1:1/fuzz", timeout_seconds=30, active=False,
                  secret_key="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        seeds = {
            "CreateWebhook": [pb.CreateWebhookRequest(**wh)],
            "GetWebhook": [pb.GetWebhookRequest(id=keep.id), pb.GetWebhookRequest(name="keep")],
            "ListWebhooks": [pb.ListWebhooksRequest(application=pb.APPLICATION_ENTERPRISE,
                                                    trigger_action="AccountUpdated", active=True,
                                                    page_size=5, page_token="1")],
            "UpdateWebhook": [pb.UpdateWebhookRequest(name="fuzz", new_name="fuzz2",
                                                      url="https://127.0.0.1:1/x",
                                                      timeout_seconds=9, active=True)],
            "DeleteWebhook": [pb.DeleteWebhookRequest(name="fuzz2")],
            "ListTriggerActions": [pb.ListTriggerActionsRequest(application=pb.APPLICATION_ELITE)],
            "ListDeliveries": [pb.ListDeliveriesRequest(webhook_name="keep", state=1,
                                                        page_size=3, page_token="9")],
            "GetDelivery": [pb.GetDeliveryRequest(id=1)],
            "RedeliverDelivery": [pb.RedeliverDeliveryRequest(id=1)],
        }
        self.assertGreater(self.fuzz(seeds, 150), 1000)

        def check_keep():
            got = self.stub.GetWebhook(pb.GetWebhookRequest(id=keep.id, reveal_secret=True))
            self.assertEqual((got.name, got.url, got.description, got.secret_key),
                             (keep.name, keep.url, keep.description, keep.secret_key))
        check_keep()
        listed = self.stub.ListWebhooks(pb.ListWebhooksRequest(page_size=1000)).webhooks
        self.assertIn(keep.id, [w.id for w in listed])
        # The store is whole after a restart, too.
        self.assertEqual(self.hookd.stop(), 0, self.hookd.read_log())
        self.hookd.start()
        self.stub = self.hookd.stub()
        check_keep()

    def test_trigger_event_survives_bad_requests(self):
        # No webhook is configured: nothing is delivered anywhere.
        seeds = {"TriggerEvent": [
            pb.TriggerEventRequest(application=pb.APPLICATION_ENTERPRISE,
                                   trigger_action="AccountUpdated", origin=pb.ORIGIN_API,
                                   payload=b'{"a":[1,2.5e3,"x\\u00e9",true,null,{"b":{}}]}',
                                   event_id="evt-1")]}
        self.assertGreater(self.fuzz(seeds, 600), 500)
        r = self.stub.TriggerEvent(pb.TriggerEventRequest(
            application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
            payload=b"{}"))
        self.assertTrue(r.event_id)


if __name__ == "__main__":
    unittest.main()
