"""test_reload.py -- SIGHUP reloads the config file (catalog, roles, limits, log level) without
dropping connections; an invalid file is refused and the old config kept; webhooks whose trigger
action left the catalog are named; bad --socket paths are explained."""
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import grpc

import harness
from harness import pb

NOBODY = 65534
ACTIONS_ONE = "trigger_action = enterprise ReloadOne Reload One\n"
ACTIONS_TWO = "trigger_action = enterprise ReloadTwo Reload Two\n"


class RawH2:
    """One HTTP/2 connection held open by hand, to tell whether the very same connection lives."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(10)
        self.s.connect(path)
        self.s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
        self.buf = b""
        self.read_until(lambda t, f, p: t == 4 and not f & 1)  # the server's SETTINGS

    def read_until(self, want):
        while True:
            while len(self.buf) >= 9:
                n = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) < 9 + n:
                    break
                t, f = self.buf[3], self.buf[4]
                payload = self.buf[9:9 + n]
                self.buf = self.buf[9 + n:]
                if t == 7:
                    raise AssertionError("GOAWAY from hookd")
                if want(t, f, payload):
                    return
            data = self.s.recv(65536)
            if not data:
                raise AssertionError("hookd closed the connection")
            self.buf += data

    def ping(self, token):
        self.s.sendall(frame(6, 0, 0, token))
        self.read_until(lambda t, f, p: t == 6 and f & 1 and p == token)

    def close(self):
        self.s.close()


def frame(ftype, flags, stream, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


class Reload(harness.HookdTestCase):
    config = ACTIONS_ONE

    def write_config(self, text):
        with open(self.hookd.config_path, "w") as f:
            f.write(text)

    def count(self, needle):
        return self.hookd.read_log().count(needle)

    def sighup(self, expect="event=reloaded"):
        """Sends SIGHUP and waits until hookd logged that it reloaded (or refused to)."""
        before = self.count(expect)
        self.hookd.proc.send_signal(signal.SIGHUP)
        end = time.time() + 15
        while time.time() < end:
            if self.count(expect) > before:
                return self.hookd.read_log()
            self.assertIsNone(self.hookd.proc.poll(), "hookd died on SIGHUP:\n" + self.hookd.read_log())
            time.sleep(0.02)
        self.fail("no %s after SIGHUP; log:\n%s" % (expect, self.hookd.read_log()))

    def action_keys(self, stub=None):
        got = (stub or self.stub).ListTriggerActions(pb.ListTriggerActionsRequest()).trigger_actions
        return {a.key for a in got}

    def test_catalog_reload_keeps_connections(self):
        raw = RawH2(self.hookd.socket)
        self.addCleanup(raw.close)
        self.assertIn("ReloadOne", self.action_keys())
        self.assertNotIn("ReloadTwo", self.action_keys())
        self.write_config(ACTIONS_TWO)
        self.sighup()
        keys = self.action_keys()  # the same grpc channel as before
        self.assertIn("ReloadTwo", keys)
        self.assertNotIn("ReloadOne", keys)
        self.assertIn("AccountUpdated", keys)  # the built-in catalog stays
        raw.ping(b"survived")  # the very connection opened before the reload still answers
        # SIGHUP is not a stop: the socket is there and hookd logged no stop.
        self.assertTrue(os.path.exists(self.hookd.socket))
        self.assertNotIn("event=stopping", self.hookd.read_log())

    def test_invalid_file_is_refused_and_old_config_kept(self):
        self.write_config("# comment\n" + ACTIONS_TWO + "max_streams = banana\n")
        log = self.sighup("event=reload_failed")
        line = [l for l in log.splitlines() if "event=reload_failed" in l][-1]
        self.assertIn("line 3: max_streams: must be a whole number", line)
        self.assertIn(self.hookd.config_path, line)
        self.assertIn("ReloadOne", self.action_keys())  # nothing of the bad file was taken
        self.assertNotIn("ReloadTwo", self.action_keys())
        # A config that names an unknown group is refused as well.
        self.write_config(ACTIONS_TWO + "trigger_gids = hk-no-such-group\n")
        log = self.sighup("event=reload_failed")
        self.assertIn("line 2: trigger_gids: no group named", log.splitlines()[-1])
        self.assertNotIn("ReloadTwo", self.action_keys())
        # Once fixed, the next SIGHUP takes it.
        self.write_config(ACTIONS_TWO)
        self.sighup()
        self.assertIn("ReloadTwo", self.action_keys())

    def test_unreadable_file_is_refused(self):
        os.rename(self.hookd.config_path, self.hookd.config_path + ".gone")
        log = self.sighup("event=reload_failed")
        self.assertIn("cannot read", log.splitlines()[-1])
        self.assertIn("ReloadOne", self.action_keys())

    def test_webhook_of_a_removed_action_is_named(self):
        wh = self.stub.CreateWebhook(pb.CreateWebhookRequest(
            name="orphan to be", application=pb.APPLICATION_ENTERPRISE, trigger_action="ReloadOne",
            url="https://hooks.example.com/o"))
        self.assertEqual(self.count("event=webhook_action_unknown"), 0)
        self.write_config(ACTIONS_TWO)
        log = self.sighup()
        warn = [l for l in log.splitlines() if "event=webhook_action_unknown" in l]
        self.assertEqual(len(warn), 1, log)
        self.assertIn("webhook=%d name=\"orphan to be\" application=enterprise "
                      "trigger_action=\"ReloadOne\"" % wh.id, warn[0])
        self.assertIn("level=warn", warn[0])
        # At the next start too.
        self.assertEqual(self.hookd.stop(), 0, self.hookd.read_log())
        self.hookd.start()
        self.hookd.stub().ListWebhooks(pb.ListWebhooksRequest())  # the start is over
        self.assertEqual(self.count("event=webhook_action_unknown"), 2)
        # Back in the catalog: no warning.
        self.write_config(ACTIONS_ONE)
        self.sighup()
        self.assertEqual(self.count("event=webhook_action_unknown"), 2)

    def test_limits_and_log_level(self):
        big = pb.TriggerEventRequest(application=pb.APPLICATION_ENTERPRISE,
                                     trigger_action="AccountUpdated",
                                     payload=b'{"x": "' + b"a" * 3000 + b'"}')
        self.stub.TriggerEvent(big)
        self.write_config(ACTIONS_ONE + "max_payload_bytes = 1000\nlog_level = debug\n"
                          "max_transfers = 7\n")
        log = self.sighup()
        self.assertIn("event=reload_needs_restart key=max_transfers", log)
        err = self.assertStatus(grpc.StatusCode.RESOURCE_EXHAUSTED, self.stub.TriggerEvent, big)
        self.assertIn("over the limit of 1000", err.details())
        # debug lines now: a new connection is logged.
        before = self.count("event=conn_open")
        raw = RawH2(self.hookd.socket)  # accepted, SETTINGS exchanged: conn_open was logged
        raw.close()
        self.assertEqual(self.count("event=conn_open"), before + 1)


class ReloadRoles(unittest.TestCase):
    """A role given by a reload takes effect for the next call of an already running hookd."""

    CHILD = r"""
import json, sys, grpc
with grpc.insecure_channel(sys.argv[1]) as ch:
    try:
        ch.unary_unary("/hookd.v1.Webhooks/ListTriggerActions")(b"", timeout=10)
        print("OK")
    except grpc.RpcError as e:
        print(e.code().name)
"""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run a caller as nobody")
        base = tempfile.mkdtemp(prefix="hk-e2e-reload-", dir="/tmp")
        os.chmod(base, 0o755)
        self.hookd = harness.Hookd("socket_mode = 0666\n", base=base)
        self.addCleanup(self.hookd.cleanup)
        self.hookd.start()

    def as_nobody(self):
        out = subprocess.run(
            ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
             "/usr/bin/python3", "-c", self.CHILD, self.hookd.target],
            cwd="/", env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.strip()

    def test_role_granted_and_taken_by_reload(self):
        self.assertEqual(self.as_nobody(), "PERMISSION_DENIED")
        for text, want in (("socket_mode = 0666\ntrigger_uids = nobody\n", "OK"),
                           ("socket_mode = 0666\n", "PERMISSION_DENIED")):
            with open(self.hookd.config_path, "w") as f:
                f.write(text)
            n = self.hookd.read_log().count("event=reloaded")
            self.hookd.proc.send_signal(signal.SIGHUP)
            end = time.time() + 15
            while self.hookd.read_log().count("event=reloaded") == n and time.time() < end:
                time.sleep(0.02)
            self.assertEqual(self.as_nobody(), want, self.hookd.read_log())
        self.assertEqual(self.hookd.stop(), 0, self.hookd.read_log())


class SocketFlag(unittest.TestCase):
    def run_hookd(self, *args):
        base = tempfile.mkdtemp(prefix="hk-e2e-flags-")
        self.addCleanup(subprocess.run, ["rm", "-rf", base])
        return subprocess.run([harness.HOOKD_BIN, "--data", os.path.join(base, "data")] + list(args),
                              capture_output=True, text=True, timeout=30)

    def test_empty_socket(self):
        out = self.run_hookd("--socket", "")
        self.assertEqual(out.returncode, 2)
        self.assertEqual(out.stderr, "hookd: --socket '': socket: must not be empty\n")

    def test_too_long_socket(self):
        path = "/tmp/" + "s" * 200 + ".sock"
        out = self.run_hookd("--socket", path)
        self.assertEqual(out.returncode, 2)
        self.assertIn("hookd: --socket '%s': socket: 210 bytes is longer than 107 bytes, the limit "
                      "of a Unix socket path" % path, out.stderr)

    def test_bad_socket_in_config_names_the_line(self):
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("# x\nsocket = %s\n" % ("/tmp/" + "s" * 200))
        self.addCleanup(os.unlink, f.name)
        out = self.run_hookd("--config", f.name)
        self.assertEqual(out.returncode, 2)
        self.assertIn("%s: line 2: socket: 205 bytes is longer than 107 bytes" % f.name, out.stderr)


if __name__ == "__main__":
    unittest.main()
