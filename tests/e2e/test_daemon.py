"""test_daemon.py -- hookd as a process: durability across kill -9, one per data dir, caller roles,
SIGTERM."""
import json
import os
import subprocess
import tempfile
import unittest

import grpc

import harness
from harness import pb

NOBODY = 65534

# Runs as nobody: one unary call with raw request bytes, so the child needs
# nothing but grpcio (the generated stubs may sit in a directory nobody
# cannot read). Prints {"code": ..., "details": ...}.
CHILD = r"""
import json, sys, grpc
target, path, body = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
with grpc.insecure_channel(target) as ch:
    try:
        ch.unary_unary(path)(body, timeout=10)
        print(json.dumps({"code": "OK", "details": ""}))
    except grpc.RpcError as e:
        print(json.dumps({"code": e.code().name, "details": e.details()}))
"""


def create_req(name):
    return pb.CreateWebhookRequest(name=name, application=pb.APPLICATION_ENTERPRISE,
                                   trigger_action="AccountUpdated",
                                   url="https://hooks.example.com/" + name.replace(" ", "-"))


class Durability(unittest.TestCase):
    def test_data_survives_kill9_and_ids_are_not_reused(self):
        first = harness.Hookd()
        self.addCleanup(first.cleanup)
        first.start()
        stub = first.stub()
        a = stub.CreateWebhook(create_req("a"))
        b = stub.CreateWebhook(create_req("b"))
        c = stub.CreateWebhook(create_req("c"))
        stub.DeleteWebhook(pb.DeleteWebhookRequest(id=c.id))
        stub.UpdateWebhook(pb.UpdateWebhookRequest(id=b.id, new_name="b renamed", active=False))
        self.assertEqual(first.kill9(), -9)

        second = harness.Hookd(base=first.base)
        self.addCleanup(second.cleanup)
        second.start()  # over the stale socket file the killed hookd left
        stub = second.stub()
        got_a = stub.GetWebhook(pb.GetWebhookRequest(id=a.id, reveal_secret=True))
        self.assertEqual(got_a, a)
        got_b = stub.GetWebhook(pb.GetWebhookRequest(name="B RENAMED"))
        self.assertEqual(got_b.id, b.id)
        self.assertFalse(got_b.active)
        with self.assertRaises(grpc.RpcError) as cm:
            stub.GetWebhook(pb.GetWebhookRequest(id=c.id))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        d = stub.CreateWebhook(create_req("d"))
        self.assertGreater(d.id, c.id)
        listed = stub.ListWebhooks(pb.ListWebhooksRequest()).webhooks
        self.assertEqual([w.id for w in listed], [a.id, b.id, d.id])
        self.assertEqual(second.stop(), 0, second.read_log())


class Roles(unittest.TestCase):
    """Callers identified by SO_PEERCRED: a child process run as nobody."""

    config = ""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run a caller as nobody")
        # nobody must reach the socket: a world-traversable directory and a
        # world-writable socket (connect(2) needs write permission).
        base = tempfile.mkdtemp(prefix="hk-e2e-roles-", dir="/tmp")
        os.chmod(base, 0o755)
        self.hookd = harness.Hookd(self.config, ("--set", "socket_mode=0666"), base=base)
        self.addCleanup(self.hookd.cleanup)
        self.hookd.start()

    def tearDown(self):
        self.assertEqual(self.hookd.stop(), 0, self.hookd.read_log())

    def call_as_nobody(self, path, request):
        out = subprocess.run(
            ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
             "/usr/bin/python3", "-c", CHILD, self.hookd.target, path,
             request.SerializeToString().hex()],
            cwd="/", env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def create_as_nobody(self):
        return self.call_as_nobody("/hookd.v1.Webhooks/CreateWebhook", create_req("from nobody"))

    def actions_as_nobody(self):
        return self.call_as_nobody("/hookd.v1.Webhooks/ListTriggerActions",
                                   pb.ListTriggerActionsRequest())


class NobodyIsNobody(Roles):
    def test_permission_denied(self):
        r = self.create_as_nobody()
        self.assertEqual(r["code"], "PERMISSION_DENIED", r)
        self.assertEqual(r["details"], "uid %d may not call CreateWebhook" % NOBODY)
        r = self.actions_as_nobody()
        self.assertEqual(r["code"], "PERMISSION_DENIED", r)
        # Health is open to every caller.
        r = self.call_as_nobody("/grpc.health.v1.Health/Check", harness.health_pb2.HealthCheckRequest())
        self.assertEqual(r["code"], "OK", r)
        # Nothing was created; root (hookd's own uid) may do everything.
        stub = self.hookd.stub()
        self.assertEqual(len(stub.ListWebhooks(pb.ListWebhooksRequest()).webhooks), 0)
        stub.CreateWebhook(create_req("from root"))
        self.assertIn("PERMISSION_DENIED", self.hookd.read_log())


class NobodyMayTrigger(Roles):
    config = "trigger_uids = %d\n" % NOBODY

    def test_trigger_role(self):
        r = self.actions_as_nobody()
        self.assertEqual(r["code"], "OK", r)
        r = self.create_as_nobody()
        self.assertEqual(r["code"], "PERMISSION_DENIED", r)


class NobodyIsAdminByGroup(Roles):
    config = "admin_gids = %d\n" % NOBODY

    def test_admin_role(self):
        r = self.create_as_nobody()
        self.assertEqual(r["code"], "OK", r)
        got = self.hookd.stub().GetWebhook(pb.GetWebhookRequest(name="from nobody"))
        self.assertEqual(got.url, "https://hooks.example.com/from-nobody")


class OneHookdPerDataDir(unittest.TestCase):
    def test_second_hookd_on_a_data_dir_in_use_is_refused(self):
        first = harness.Hookd()
        self.addCleanup(first.cleanup)
        first.start()
        first.stub().CreateWebhook(create_req("mine"))

        # Another socket, the same data directory.
        second = harness.Hookd()
        self.addCleanup(second.cleanup)
        second.data = first.data
        second.start(wait=False)
        rc = second.proc.wait(timeout=15)
        second.log.close()
        second.proc = None
        self.assertNotEqual(rc, 0)
        log = second.read_log()
        self.assertIn("event=store_in_use", log)
        self.assertIn("another hookd is running on this data directory", log)
        self.assertFalse(os.path.exists(second.socket), "the refused hookd must not serve")
        # The first one is untouched and still serves.
        self.assertEqual(first.stub().GetWebhook(pb.GetWebhookRequest(name="mine")).name, "mine")

        # The lock dies with its process, however it dies: after kill -9 the
        # directory is free at once.
        self.assertEqual(first.kill9(), -9)
        third = harness.Hookd()
        self.addCleanup(third.cleanup)
        third.data = first.data
        third.start()
        self.assertEqual(third.stub().GetWebhook(pb.GetWebhookRequest(name="mine")).name, "mine")
        self.assertEqual(third.stop(), 0, third.read_log())


class Signals(unittest.TestCase):
    def test_sigterm_exits_0(self):
        h = harness.Hookd()
        self.addCleanup(h.cleanup)
        h.start()
        h.stub().CreateWebhook(create_req("x"))
        self.assertEqual(h.stop(), 0, h.read_log())
        self.assertIn("event=stopped", h.read_log())
        # And it comes back with its data after a clean stop too.
        again = harness.Hookd(base=h.base)
        self.addCleanup(again.cleanup)
        again.start()
        self.assertEqual(again.stub().GetWebhook(pb.GetWebhookRequest(name="x")).name, "x")
        self.assertEqual(again.stop(), 0, again.read_log())


if __name__ == "__main__":
    unittest.main()
