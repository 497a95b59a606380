"""test_webhooks.py -- the webhook RPCs end to end: python grpcio against the real hookd."""
import base64
import unittest

import grpc

import harness
from harness import pb, health_pb2

OK_URL = "https://hooks.example.com/momentus"


def create_req(**kw):
    """A valid CreateWebhookRequest; keyword arguments override its fields."""
    fields = dict(name="Account sync", application=pb.APPLICATION_ENTERPRISE,
                  trigger_action="AccountUpdated", url=OK_URL)
    fields.update(kw)
    return pb.CreateWebhookRequest(**fields)


class WebhookTestCase(harness.HookdTestCase):
    def create(self, **kw):
        return self.stub.CreateWebhook(create_req(**kw))

    def assertInvalid(self, field, fn, *args, **kw):
        """fn(*args, **kw) fails INVALID_ARGUMENT with a message naming field."""
        e = self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT, fn, *args, **kw)
        self.assertTrue(e.details().startswith(field + ":"),
                        "message %r does not name %s" % (e.details(), field))
        return e


class CreateGet(WebhookTestCase):
    def test_create_with_nothing_optional(self):
        wh = self.create()
        self.assertGreater(wh.id, 0)
        self.assertEqual(wh.name, "Account sync")
        self.assertEqual(wh.application, pb.APPLICATION_ENTERPRISE)
        self.assertEqual(wh.trigger_action, "AccountUpdated")
        self.assertEqual(wh.url, OK_URL)
        self.assertTrue(wh.active)
        self.assertEqual(wh.timeout_seconds, 15)
        self.assertEqual(wh.auth_method, pb.AUTH_METHOD_OAUTH)
        self.assertFalse(wh.asynchronous)
        self.assertFalse(wh.ignore_for_api)
        self.assertEqual(wh.description, "")
        self.assertTrue(wh.secret_key.startswith("whsec_"), wh.secret_key)
        self.assertEqual(len(base64.b64decode(wh.secret_key[6:], validate=True)), 32)
        self.assertGreater(wh.create_time, 1_600_000_000_000)  # Unix ms
        self.assertEqual(wh.update_time, wh.create_time)

    def test_create_sets_every_field(self):
        wh = self.create(name="Élite orders ✓", application=pb.APPLICATION_ELITE,
                         trigger_action="OrderCreated", url="http://127.0.0.1:9000/hook",
                         auth_method=pb.AUTH_METHOD_OAUTH, timeout_seconds=600,
                         secret_key="my own secret key, 32 chars long", asynchronous=True,
                         ignore_for_api=True, active=False, description="to the ERP\nowner: ops")
        got = self.stub.GetWebhook(pb.GetWebhookRequest(id=wh.id, reveal_secret=True))
        self.assertEqual(got, wh)
        self.assertEqual(got.timeout_seconds, 600)
        self.assertFalse(got.active)
        self.assertTrue(got.asynchronous)
        self.assertTrue(got.ignore_for_api)
        self.assertEqual(got.secret_key, "my own secret key, 32 chars long")
        self.assertEqual(got.description, "to the ERP\nowner: ops")

    def test_explicit_zero_values_are_kept(self):
        # active=false and the rest must not be mistaken for "not set".
        wh = self.create(active=False, timeout_seconds=1)
        self.assertFalse(wh.active)
        self.assertEqual(wh.timeout_seconds, 1)

    def test_get_by_id_and_name_masks_the_secret(self):
        gen = self.create(name="Generated")
        own = self.create(name="Custom", secret_key="0123456789abcdefXYZ")
        g = self.stub.GetWebhook(pb.GetWebhookRequest(id=gen.id))
        self.assertEqual(g.secret_key, "whsec_********")
        self.assertEqual(g.name, "Generated")
        c = self.stub.GetWebhook(pb.GetWebhookRequest(name="Custom"))
        self.assertEqual(c.id, own.id)
        self.assertEqual(c.secret_key, "********")
        # Names compare case-insensitively.
        self.assertEqual(self.stub.GetWebhook(pb.GetWebhookRequest(name="gENERATED")).id, gen.id)
        r = self.stub.GetWebhook(pb.GetWebhookRequest(name="custom", reveal_secret=True))
        self.assertEqual(r.secret_key, "0123456789abcdefXYZ")

    def test_get_needs_a_key(self):
        e = self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT, self.stub.GetWebhook,
                              pb.GetWebhookRequest())
        self.assertEqual(e.details(), "id or name is required")

    def test_get_missing(self):
        self.assertStatus(grpc.StatusCode.NOT_FOUND, self.stub.GetWebhook,
                          pb.GetWebhookRequest(id=424242))
        self.assertStatus(grpc.StatusCode.NOT_FOUND, self.stub.GetWebhook,
                          pb.GetWebhookRequest(name="nobody has this name"))

    def test_duplicate_name_in_any_letter_case(self):
        self.create(name="Orders")
        for name in ("Orders", "orders", "ORDERS"):
            e = self.assertStatus(grpc.StatusCode.ALREADY_EXISTS, self.create, name=name)
            self.assertTrue(e.details().startswith("name:"), e.details())
        other = self.create(name="Invoices")
        e = self.assertStatus(grpc.StatusCode.ALREADY_EXISTS, self.stub.UpdateWebhook,
                              pb.UpdateWebhookRequest(id=other.id, new_name="oRDERS"))
        self.assertTrue(e.details().startswith("new_name:"), e.details())
        self.assertEqual(self.stub.GetWebhook(pb.GetWebhookRequest(id=other.id)).name, "Invoices")


class Validation(WebhookTestCase):
    config = "allow_http = false\n"

    def test_create_refuses_each_rule(self):
        cases = [
            ("name", dict(name="")),
            ("name", dict(name="x" * 101)),
            ("name", dict(name="tab\there")),
            ("name", dict(name="   ")),
            ("application", dict(application=pb.APPLICATION_UNSPECIFIED)),
            ("application", dict(application=7)),
            ("trigger_action", dict(trigger_action="")),
            ("trigger_action", dict(trigger_action="NoSuchAction")),
            ("trigger_action", dict(trigger_action="ContractSigned")),  # Elite's, not Enterprise's
            ("url", dict(url="")),
            ("url", dict(url="ftp://example.com/hook")),
            ("url", dict(url="hooks.example.com/x")),
            ("url", dict(url="http://example.com/hook")),
            ("url", dict(url="https://user:pw@example.com/hook")),
            ("url", dict(url="https://example.com/hook#part")),
            ("url", dict(url="https://exa mple.com/")),
            ("url", dict(url="https:///nohost")),
            ("url", dict(url="https://example.com/" + "a" * 2030)),
            ("auth_method", dict(auth_method=5)),
            ("timeout_seconds", dict(timeout_seconds=0)),
            ("timeout_seconds", dict(timeout_seconds=601)),
            ("secret_key", dict(secret_key="too short")),
            ("secret_key", dict(secret_key="whsec_" + "*" * 40)),
            ("secret_key", dict(secret_key="whsec_" + base64.b64encode(b"k" * 8).decode())),
            ("secret_key", dict(secret_key="k" * 257)),
            ("description", dict(description="d" * 501)),
        ]
        for field, kw in cases:
            with self.subTest(field=field, value=kw):
                e = self.assertInvalid(field, self.create, **kw)
                if "secret_key" in kw:
                    self.assertNotIn(kw["secret_key"], e.details())
        # Nothing was stored by any of them.
        self.assertEqual(len(self.stub.ListWebhooks(pb.ListWebhooksRequest()).webhooks), 0)

    def test_create_accepts_the_limits(self):
        self.create(name="é" * 100, url="https://e.co/" + "a" * (2048 - 13),
                    description="ü" * 500, timeout_seconds=600)
        self.create(name="loopback v4", url="http://127.0.0.1:8080/h")
        self.create(name="loopback v6", url="http://[::1]:8080/h")
        self.create(name="loopback name", url="http://localhost/h")

    def test_update_refuses_each_rule(self):
        wh = self.create()
        cases = [
            ("new_name", dict(new_name="")),
            ("new_name", dict(new_name="bell\x07")),
            ("trigger_action", dict(trigger_action="ContractSigned")),
            ("url", dict(url="http://example.com/")),
            ("timeout_seconds", dict(timeout_seconds=0)),
            ("secret_key", dict(secret_key="short")),
            ("description", dict(description="d" * 501)),
        ]
        for field, kw in cases:
            with self.subTest(field=field):
                self.assertInvalid(field, self.stub.UpdateWebhook,
                                   pb.UpdateWebhookRequest(id=wh.id, **kw))
        got = self.stub.GetWebhook(pb.GetWebhookRequest(id=wh.id, reveal_secret=True))
        self.assertEqual(got, wh)

    def test_bad_list_arguments(self):
        self.assertInvalid("page_token", self.stub.ListWebhooks,
                           pb.ListWebhooksRequest(page_token="not-a-token"))
        self.assertInvalid("application", self.stub.ListWebhooks,
                           pb.ListWebhooksRequest(application=9))
        self.assertInvalid("application", self.stub.ListTriggerActions,
                           pb.ListTriggerActionsRequest(application=9))


class AllowHttp(WebhookTestCase):
    args = ("--set", "allow_http=true")

    def test_http_to_any_host(self):
        wh = self.create(url="http://receiver.example.com/hook")
        self.assertEqual(wh.url, "http://receiver.example.com/hook")


class Update(WebhookTestCase):
    def test_only_present_fields_change(self):
        wh = self.create(description="first", timeout_seconds=20)
        up = self.stub.UpdateWebhook(pb.UpdateWebhookRequest(id=wh.id, url="https://new.example.com/h"))
        self.assertEqual(up.url, "https://new.example.com/h")
        self.assertEqual(up.description, "first")
        self.assertEqual(up.timeout_seconds, 20)
        self.assertTrue(up.active)
        self.assertEqual(up.secret_key, "whsec_********")  # unchanged: masked
        self.assertEqual(up.create_time, wh.create_time)
        self.assertGreaterEqual(up.update_time, wh.update_time)

        up = self.stub.UpdateWebhook(pb.UpdateWebhookRequest(
            name="Account sync", active=False, asynchronous=True, ignore_for_api=True,
            timeout_seconds=30, description="", trigger_action="AccountCreated"))
        self.assertFalse(up.active)
        self.assertTrue(up.asynchronous)
        self.assertTrue(up.ignore_for_api)
        self.assertEqual(up.timeout_seconds, 30)
        self.assertEqual(up.description, "")
        self.assertEqual(up.trigger_action, "AccountCreated")
        self.assertEqual(up.url, "https://new.example.com/h")
        got = self.stub.GetWebhook(pb.GetWebhookRequest(id=wh.id, reveal_secret=True))
        self.assertEqual(got.secret_key, wh.secret_key)
        self.assertFalse(got.active)

    def test_rename_keeps_the_id(self):
        wh = self.create(name="Old name")
        up = self.stub.UpdateWebhook(pb.UpdateWebhookRequest(name="old NAME", new_name="New name"))
        self.assertEqual(up.id, wh.id)
        self.assertEqual(up.name, "New name")
        self.assertStatus(grpc.StatusCode.NOT_FOUND, self.stub.GetWebhook,
                          pb.GetWebhookRequest(name="Old name"))
        self.assertEqual(self.stub.GetWebhook(pb.GetWebhookRequest(name="new name")).id, wh.id)
        # Another letter case of its own name is not a clash.
        up = self.stub.UpdateWebhook(pb.UpdateWebhookRequest(id=wh.id, new_name="NEW NAME"))
        self.assertEqual(up.name, "NEW NAME")
        # The old name is free again.
        self.assertNotEqual(self.create(name="Old name").id, wh.id)

    def test_secret_rotation(self):
        wh = self.create()
        up = self.stub.UpdateWebhook(pb.UpdateWebhookRequest(id=wh.id, secret_key=""))
        self.assertTrue(up.secret_key.startswith("whsec_"))
        self.assertNotEqual(up.secret_key, "whsec_********")
        self.assertNotEqual(up.secret_key, wh.secret_key)
        self.assertEqual(len(base64.b64decode(up.secret_key[6:])), 32)
        got = self.stub.GetWebhook(pb.GetWebhookRequest(id=wh.id, reveal_secret=True))
        self.assertEqual(got.secret_key, up.secret_key)

        up = self.stub.UpdateWebhook(pb.UpdateWebhookRequest(id=wh.id, secret_key="a custom secret value"))
        self.assertEqual(up.secret_key, "a custom secret value")
        # Setting the same secret again is no change: masked.
        up = self.stub.UpdateWebhook(pb.UpdateWebhookRequest(id=wh.id, secret_key="a custom secret value"))
        self.assertEqual(up.secret_key, "********")

    def test_application_and_auth_method_are_immutable(self):
        wh = self.create()
        for kw, field in ((dict(application=pb.APPLICATION_ELITE), "application"),
                          (dict(auth_method=2), "auth_method")):
            with self.subTest(field=field):
                e = self.assertStatus(grpc.StatusCode.FAILED_PRECONDITION, self.stub.UpdateWebhook,
                                      pb.UpdateWebhookRequest(id=wh.id, new_name="changed",
                                                              url="https://changed.example.com/",
                                                              **kw))
                self.assertEqual(e.details(), field + " cannot be changed")
                got = self.stub.GetWebhook(pb.GetWebhookRequest(id=wh.id, reveal_secret=True))
                self.assertEqual(got, wh)
        # Naming the current values is allowed.
        up = self.stub.UpdateWebhook(pb.UpdateWebhookRequest(
            id=wh.id, application=pb.APPLICATION_ENTERPRISE, auth_method=pb.AUTH_METHOD_OAUTH,
            active=False))
        self.assertFalse(up.active)
        self.assertEqual(up.application, pb.APPLICATION_ENTERPRISE)

    def test_trigger_action_checked_against_its_application(self):
        wh = self.create(application=pb.APPLICATION_ELITE, trigger_action="OrderCreated")
        up = self.stub.UpdateWebhook(pb.UpdateWebhookRequest(id=wh.id, trigger_action="ContractSigned"))
        self.assertEqual(up.trigger_action, "ContractSigned")
        self.assertInvalid("trigger_action", self.stub.UpdateWebhook,
                           pb.UpdateWebhookRequest(id=wh.id, trigger_action="PaymentReceivedX"))

    def test_update_missing(self):
        self.assertStatus(grpc.StatusCode.NOT_FOUND, self.stub.UpdateWebhook,
                          pb.UpdateWebhookRequest(id=99, active=False))
        e = self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT, self.stub.UpdateWebhook,
                              pb.UpdateWebhookRequest(active=False))
        self.assertEqual(e.details(), "id or name is required")


class Delete(WebhookTestCase):
    def test_delete_then_get(self):
        wh = self.create()
        gone = self.stub.DeleteWebhook(pb.DeleteWebhookRequest(id=wh.id))
        self.assertEqual(gone.id, wh.id)
        self.assertEqual(gone.name, wh.name)
        self.assertEqual(gone.secret_key, "whsec_********")
        self.assertStatus(grpc.StatusCode.NOT_FOUND, self.stub.GetWebhook,
                          pb.GetWebhookRequest(id=wh.id))
        self.assertStatus(grpc.StatusCode.NOT_FOUND, self.stub.DeleteWebhook,
                          pb.DeleteWebhookRequest(id=wh.id))

    def test_delete_by_name_frees_the_name(self):
        wh = self.create(name="Temp")
        self.assertEqual(self.stub.DeleteWebhook(pb.DeleteWebhookRequest(name="TEMP")).id, wh.id)
        again = self.create(name="Temp")
        self.assertGreater(again.id, wh.id)  # ids are never reused
        self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT, self.stub.DeleteWebhook,
                          pb.DeleteWebhookRequest())


class List(WebhookTestCase):
    def make_some(self):
        made = []
        specs = [
            (pb.APPLICATION_ENTERPRISE, "AccountUpdated", True),
            (pb.APPLICATION_ENTERPRISE, "AccountUpdated", False),
            (pb.APPLICATION_ENTERPRISE, "BookingCreated", True),
            (pb.APPLICATION_ELITE, "AccountUpdated", True),
            (pb.APPLICATION_ELITE, "OrderCreated", False),
            (pb.APPLICATION_ELITE, "OrderCreated", True),
            (pb.APPLICATION_ENTERPRISE, "AccountUpdated", True),
        ]
        for i, (app, action, active) in enumerate(specs):
            made.append(self.create(name="hook %d" % i, application=app, trigger_action=action,
                                    active=active))
        return made

    def list_all(self, **kw):
        out, token, pages = [], "", 0
        while True:
            resp = self.stub.ListWebhooks(pb.ListWebhooksRequest(page_token=token, **kw))
            out.extend(resp.webhooks)
            pages += 1
            token = resp.next_page_token
            if not token:
                return out, pages
            self.assertLess(pages, 50)

    def test_paging(self):
        made = self.make_some()
        got, pages = self.list_all(page_size=3)
        self.assertEqual([w.id for w in got], [w.id for w in made])
        self.assertEqual(pages, 3)
        first = self.stub.ListWebhooks(pb.ListWebhooksRequest(page_size=3))
        self.assertEqual(len(first.webhooks), 3)
        self.assertNotEqual(first.next_page_token, "")
        # An exact fit has no next page.
        whole = self.stub.ListWebhooks(pb.ListWebhooksRequest(page_size=7))
        self.assertEqual(len(whole.webhooks), 7)
        self.assertEqual(whole.next_page_token, "")
        # 0 means the default page (100); an oversized page is capped, not refused.
        self.assertEqual(len(self.stub.ListWebhooks(pb.ListWebhooksRequest()).webhooks), 7)
        self.assertEqual(len(self.stub.ListWebhooks(pb.ListWebhooksRequest(page_size=5000)).webhooks), 7)

    def test_filters(self):
        made = self.make_some()

        def ids(**kw):
            return [w.id for w in self.list_all(page_size=2, **kw)[0]]

        self.assertEqual(ids(application=pb.APPLICATION_ELITE), [made[i].id for i in (3, 4, 5)])
        self.assertEqual(ids(trigger_action="AccountUpdated"), [made[i].id for i in (0, 1, 3, 6)])
        self.assertEqual(ids(application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated"),
                         [made[i].id for i in (0, 1, 6)])
        self.assertEqual(ids(active=False), [made[i].id for i in (1, 4)])
        self.assertEqual(ids(active=True, application=pb.APPLICATION_ELITE),
                         [made[i].id for i in (3, 5)])
        self.assertEqual(ids(application=pb.APPLICATION_ELITE, trigger_action="OrderCreated",
                             active=True), [made[5].id])
        self.assertEqual(ids(trigger_action="NothingHasThis"), [])

    def test_list_carries_no_secret(self):
        own = "a secret that must never be listed"
        created = self.create(name="with own secret", secret_key=own)
        generated = self.create(name="with generated secret").secret_key
        rotated = self.stub.UpdateWebhook(pb.UpdateWebhookRequest(
            id=created.id, secret_key="")).secret_key
        self.stub.UpdateWebhook(pb.UpdateWebhookRequest(id=created.id, secret_key=own))
        self.stub.GetWebhook(pb.GetWebhookRequest(id=created.id, reveal_secret=True))
        listed = self.stub.ListWebhooks(pb.ListWebhooksRequest()).webhooks
        self.assertEqual(len(listed), 2)
        for w in listed:
            self.assertIn(w.secret_key, ("whsec_********", "********"))
            raw = w.SerializeToString()
            for secret in (own, generated, rotated):
                self.assertNotIn(secret.encode(), raw)
        # Nor is any secret in hookd's log (at debug level, every call is logged).
        self.assertEqual(self.hookd.stop(), 0)
        log = self.hookd.read_log()
        self.assertIn("webhook_created", log)
        for secret in (own, generated, rotated, generated[6:], rotated[6:]):
            self.assertNotIn(secret, log)


class ListByteBudget(List):
    """A page also ends before the answer outgrows the message limit."""
    args = ("--set", "max_message_bytes=65536")

    def test_page_ends_at_the_byte_budget(self):
        made = [self.create(name="long %d" % i, url="https://e.co/" + "u" * 2000,
                            description="d" * 500).id for i in range(40)]
        first = self.stub.ListWebhooks(pb.ListWebhooksRequest(page_size=1000))
        self.assertLess(len(first.webhooks), 40)
        self.assertGreater(len(first.webhooks), 10)
        self.assertLess(first.ByteSize(), 65536)
        self.assertNotEqual(first.next_page_token, "")
        got, pages = self.list_all(page_size=1000)
        self.assertEqual([w.id for w in got], made)
        self.assertGreater(pages, 1)


class DebugLog(List):
    """The List tests again with every call logged."""
    args = ("--log-level", "debug")


class TriggerActions(WebhookTestCase):
    def test_list_trigger_actions(self):
        every = self.stub.ListTriggerActions(pb.ListTriggerActionsRequest()).trigger_actions
        apps = {a.application for a in every}
        self.assertEqual(apps, {pb.APPLICATION_ENTERPRISE, pb.APPLICATION_ELITE})
        ent = self.stub.ListTriggerActions(
            pb.ListTriggerActionsRequest(application=pb.APPLICATION_ENTERPRISE)).trigger_actions
        self.assertTrue(ent)
        self.assertTrue(all(a.application == pb.APPLICATION_ENTERPRISE for a in ent))
        by_key = {a.key: a.display_name for a in ent}
        self.assertEqual(by_key["AccountUpdated"], "Account Update")
        self.assertIn("BookingCreated", by_key)
        elite = self.stub.ListTriggerActions(
            pb.ListTriggerActionsRequest(application=pb.APPLICATION_ELITE)).trigger_actions
        self.assertIn("ContractSigned", {a.key for a in elite})
        self.assertEqual(len(ent) + len(elite), len(every))


class ConfiguredCatalog(WebhookTestCase):
    config = ("# extra trigger actions for this venue\n"
              "trigger_action = elite RoomBlocked Room Block\n"
              "trigger_action = enterprise AccountUpdated Account Change\n")

    def test_config_extends_the_catalog(self):
        elite = self.stub.ListTriggerActions(
            pb.ListTriggerActionsRequest(application=pb.APPLICATION_ELITE)).trigger_actions
        self.assertIn(("RoomBlocked", "Room Block"), [(a.key, a.display_name) for a in elite])
        ent = self.stub.ListTriggerActions(
            pb.ListTriggerActionsRequest(application=pb.APPLICATION_ENTERPRISE)).trigger_actions
        self.assertIn(("AccountUpdated", "Account Change"), [(a.key, a.display_name) for a in ent])
        self.assertNotIn("RoomBlocked", [a.key for a in ent])
        wh = self.create(application=pb.APPLICATION_ELITE, trigger_action="RoomBlocked")
        self.assertEqual(wh.trigger_action, "RoomBlocked")
        self.assertInvalid("trigger_action", self.create, name="other",
                           trigger_action="RoomBlocked")


class Protocol(WebhookTestCase):
    def test_health(self):
        h = self.hookd.health()
        for service in ("", "hookd.v1.Webhooks"):
            self.assertEqual(h.Check(health_pb2.HealthCheckRequest(service=service)).status,
                             health_pb2.HealthCheckResponse.SERVING)
        self.assertStatus(grpc.StatusCode.NOT_FOUND, h.Check,
                          health_pb2.HealthCheckRequest(service="no.such.Service"))

    def test_unknown_method(self):
        call = self.hookd.channel().unary_unary("/hookd.v1.Webhooks/NoSuchMethod")
        e = self.assertStatus(grpc.StatusCode.UNIMPLEMENTED, call, b"")
        self.assertIn("/hookd.v1.Webhooks/NoSuchMethod", e.details())

    def test_request_that_does_not_parse(self):
        call = self.hookd.channel().unary_unary("/hookd.v1.Webhooks/CreateWebhook")
        e = self.assertStatus(grpc.StatusCode.INVALID_ARGUMENT, call, b"\x0a\xff\xff\xff")
        self.assertIn("does not parse", e.details())


if __name__ == "__main__":
    unittest.main()
