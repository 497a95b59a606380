"""test_delivery_log.py -- the delivery log: listing, paging, GetDelivery with attempts,
redelivery, pruning, end to end (the real hookd delivering to real HTTP(S) receivers on
loopback, receiver.py; helpers and timing rules in delivery.py).
"""
import time
import unittest

import grpc

from harness import pb
from delivery import DeliveryCase, now_ms


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
        # Its 500 reached the receiver; the attempt's result is stored by a later commit.
        d = self.wait_delivery(pending, lambda d: d.attempt_count >= 1, what="attempt recorded")
        self.assertEqual(d.state, pb.DELIVERY_STATE_PENDING)
        self.assertEqual(d.attempt_count, 1)


if __name__ == "__main__":
    unittest.main()
