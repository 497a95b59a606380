"""test_roles.py -- who may connect and what they may call, as real other users: socket_group,
roles through supplementary groups, and user= (hookd drops root after binding).

Needs root (CI runs as root): creates throwaway users and groups with groupadd/useradd and
removes them afterwards; callers run as them through setpriv --init-groups."""
import grp
import json
import os
import pwd
import secrets
import stat
import subprocess
import tempfile
import unittest

import harness
from harness import pb

# Runs as another user, with nothing but grpcio: connects to the socket (errno if refused),
# then makes unary calls given as (path, hex request) pairs. Prints one JSON object.
CHILD = r"""
import errno, json, os, socket, sys, grpc
sock_path, calls = sys.argv[1], json.loads(sys.argv[2])
out = {"uid": os.getuid(), "gid": os.getgid(), "groups": sorted(os.getgroups())}
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sock_path)
    out["connect"] = "ok"
except OSError as e:
    out["connect"] = errno.errorcode.get(e.errno, str(e.errno))
finally:
    s.close()
out["calls"] = []
if out["connect"] == "ok":
    with grpc.insecure_channel("unix://" + sock_path) as ch:
        for path, body in calls:
            try:
                ch.unary_unary(path)(bytes.fromhex(body), timeout=10)
                out["calls"].append({"code": "OK", "details": ""})
            except grpc.RpcError as e:
                out["calls"].append({"code": e.code().name, "details": e.details()})
print(json.dumps(out))
"""

TRIGGER = ("/hookd.v1.Webhooks/TriggerEvent",
           pb.TriggerEventRequest(application=pb.APPLICATION_ENTERPRISE,
                                  trigger_action="AccountUpdated", payload=b'{"id": 1}'))
ACTIONS = ("/hookd.v1.Webhooks/ListTriggerActions", pb.ListTriggerActionsRequest())
CREATE = ("/hookd.v1.Webhooks/CreateWebhook",
          pb.CreateWebhookRequest(name="from a product", application=pb.APPLICATION_ENTERPRISE,
                                  trigger_action="AccountUpdated",
                                  url="https://hooks.example.com/p"))


def run(*argv):
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60)


class Accounts:
    """Throwaway users and groups; each removed by cleanup, whatever happened before."""

    def __init__(self):
        self.tag = secrets.token_hex(3)
        self.users, self.groups = [], []

    def group(self, role):
        name = "hk%s-%s" % (self.tag, role)
        run("groupadd", name)
        self.groups.append(name)
        return name

    def user(self, role, groups=()):
        name = "hk%s-%s" % (self.tag, role)
        argv = ["useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin"]
        if groups:
            argv += ["--groups", ",".join(groups)]
        run(*argv, name)
        self.users.append(name)
        return pwd.getpwnam(name)

    def cleanup(self):
        for name in self.users:
            subprocess.run(["userdel", name], capture_output=True)
        for name in self.groups:
            subprocess.run(["groupdel", name], capture_output=True)


def world_traversable_base():
    base = tempfile.mkdtemp(prefix="hk-e2e-roles-", dir="/tmp")
    os.chmod(base, 0o755)
    return base


class AsOtherUsers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root to create users (CI runs as root)")
        cls.accounts = Accounts()
        cls.addClassCleanup(cls.accounts.cleanup)
        cls.sock_group = cls.accounts.group("sock")
        cls.trig_group = cls.accounts.group("trig")
        # The product process: its primary group is its own; socket access and the trigger
        # role come only from supplementary groups.
        cls.product = cls.accounts.user("prod", groups=(cls.sock_group, cls.trig_group))
        # In the trigger group but not the socket's: roles do not matter if it cannot connect.
        cls.outsider = cls.accounts.user("out", groups=(cls.trig_group,))
        # Whom hookd becomes with user=.
        cls.service = cls.accounts.user("svc")

    def start_hookd(self, config, socket_in_new_dir=False):
        h = harness.Hookd(config, base=world_traversable_base())
        if socket_in_new_dir:
            h.socket = os.path.join(h.base, "run", "hookd.sock")
        self.addCleanup(h.cleanup)
        h.start()
        return h

    def call_as(self, user, sock_path, *calls):
        spec = json.dumps([[path, req.SerializeToString().hex()] for path, req in calls])
        out = subprocess.run(
            ["setpriv", "--reuid=%d" % user.pw_uid, "--regid=%d" % user.pw_gid, "--init-groups",
             "/usr/bin/python3", "-c", CHILD, sock_path, spec],
            cwd="/", env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    def test_trigger_role_through_supplementary_group(self):
        h = self.start_hookd("socket_group = %s\nsocket_mode = 0660\ntrigger_gids = %s\n"
                             % (self.sock_group, self.trig_group))
        st = os.stat(h.socket)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, grp.getgrnam(self.sock_group).gr_gid)

        r = self.call_as(self.product, h.socket, TRIGGER, ACTIONS, CREATE)
        trig_gid = grp.getgrnam(self.trig_group).gr_gid
        self.assertNotEqual(r["gid"], trig_gid, "the trigger group must not be the primary one")
        self.assertIn(trig_gid, r["groups"])
        self.assertEqual(r["connect"], "ok", r)
        self.assertEqual([c["code"] for c in r["calls"]], ["OK", "OK", "PERMISSION_DENIED"], r)
        self.assertEqual(r["calls"][2]["details"],
                         "uid %d may not call CreateWebhook" % self.product.pw_uid)
        # Nothing was created by the product.
        self.assertEqual(len(h.stub().ListWebhooks(pb.ListWebhooksRequest()).webhooks), 0)
        self.assertEqual(h.stop(), 0, h.read_log())

    def test_not_in_socket_group_cannot_connect(self):
        h = self.start_hookd("socket_group = %s\nsocket_mode = 0660\ntrigger_gids = %s\n"
                             % (self.sock_group, self.trig_group))
        r = self.call_as(self.outsider, h.socket, ACTIONS)
        self.assertEqual(r["connect"], "EACCES", r)
        self.assertEqual(r["calls"], [])
        # The product, in the group, gets through on the same socket.
        self.assertEqual(self.call_as(self.product, h.socket)["connect"], "ok")
        self.assertEqual(h.stop(), 0, h.read_log())

    def test_role_comes_from_the_configured_group(self):
        """The same product user with trigger_gids naming another group: it connects (socket
        group) but has no role, so the role above came from its supplementary trigger group."""
        h = self.start_hookd("socket_group = %s\nsocket_mode = 0660\ntrigger_gids = root\n"
                             % self.sock_group)
        r = self.call_as(self.product, h.socket, ACTIONS, TRIGGER)
        self.assertEqual([c["code"] for c in r["calls"]], ["PERMISSION_DENIED"] * 2, r)
        self.assertEqual(h.stop(), 0, h.read_log())

    def test_unknown_group_name_is_a_clear_error(self):
        h = harness.Hookd("trigger_gids = hk-no-such-group\n")
        self.addCleanup(h.cleanup)
        with self.assertRaises(RuntimeError) as cm:
            h.start()
        self.assertIn("line 1: trigger_gids: no group named 'hk-no-such-group'", str(cm.exception))
        self.assertEqual(h.proc.returncode, 2)

    def test_user_drops_root_and_owns_its_data(self):
        svc = self.service
        h = self.start_hookd("user = %s\n" % svc.pw_name, socket_in_new_dir=True)
        # Bound as root, then the store opens as the user: the first answer comes after.
        created = h.stub().CreateWebhook(CREATE[1])
        self.assertGreater(created.id, 0)
        with open("/proc/%d/status" % h.proc.pid) as f:
            status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        self.assertEqual(status["Uid"].split(), [str(svc.pw_uid)] * 4, status["Uid"])
        self.assertEqual(status["Gid"].split(), [str(svc.pw_gid)] * 4, status["Gid"])
        self.assertNotIn("0", status["Groups"].split(), "root's groups were kept")
        # The data dir hookd created as root is the user's, and so is what it wrote there.
        for path in (h.data, os.path.join(h.data, "secret.key")):
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid), (svc.pw_uid, svc.pw_gid), path)
        self.assertEqual(os.stat(os.path.dirname(h.socket)).st_uid, svc.pw_uid)
        # Root (an admin) is served by the user's process.
        self.assertEqual(h.stub().GetWebhook(pb.GetWebhookRequest(id=created.id)).name,
                         "from a product")
        self.assertIn("event=privileges_dropped user=%s uid=%d" % (svc.pw_name, svc.pw_uid),
                      h.read_log())
        self.assertEqual(h.stop(), 0, h.read_log())
        self.assertFalse(os.path.exists(h.socket), "the socket was left behind")

    def test_user_needs_root(self):
        """user= of someone else, started by a user who is not root: refused, said why."""
        base = world_traversable_base()
        conf = os.path.join(base, "hookd.conf")
        with open(conf, "w") as f:
            f.write("user = %s\n" % self.service.pw_name)
        os.chown(base, self.product.pw_uid, self.product.pw_gid)
        self.addCleanup(subprocess.run, ["rm", "-rf", base])
        out = subprocess.run(
            ["setpriv", "--reuid=%d" % self.product.pw_uid, "--regid=%d" % self.product.pw_gid,
             "--init-groups", harness.HOOKD_BIN, "--config", conf, "--socket",
             os.path.join(base, "hookd.sock"), "--data", os.path.join(base, "data")],
            cwd="/", env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("user= needs hookd started as root", out.stderr)
        self.assertFalse(os.path.exists(os.path.join(base, "hookd.sock")))


if __name__ == "__main__":
    unittest.main()
