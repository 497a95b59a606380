"""test_service.py -- hookd under a service manager, played by the test: the socket handed over
as fd 3 (LISTEN_FDS/LISTEN_PID), READY/WATCHDOG/RELOADING/STOPPING on its NOTIFY_SOCKET."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import grpc

import harness
from harness import pb


def built_with_systemd():
    out = subprocess.run([harness.HOOKD_BIN, "--help"], capture_output=True, text=True).stdout
    return "built without libsystemd" not in out


class Manager:
    """What systemd does for a Type=notify service with a socket unit: binds and listens on the
    socket, starts hookd with it as fd 3, and reads what hookd tells NOTIFY_SOCKET."""

    def __init__(self, watchdog_usec=None, listen_pid_offset=0, fd3=None):
        self.base = tempfile.mkdtemp(prefix="hk-e2e-svc-")
        self.socket = os.path.join(self.base, "activated.sock")
        # The name hookd is given: with a handed-over socket it must not create this one.
        self.named = os.path.join(self.base, "named", "hookd.sock")
        self.data = os.path.join(self.base, "data")
        self.config_path = os.path.join(self.base, "hookd.conf")
        self.log_path = os.path.join(self.base, "hookd.log")
        with open(self.config_path, "w") as f:
            f.write("trigger_action = enterprise SvcOne Service One\n")
        if fd3 is None:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(self.socket)
            self.listener.listen(16)
        else:
            self.listener = fd3
        self.notify_path = os.path.join(self.base, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.watchdog_usec = watchdog_usec
        self.listen_pid_offset = listen_pid_offset
        self.pid = None
        self.messages = []

    def start(self):
        env = {"PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": self.notify_path}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        if self.watchdog_usec:
            env["WATCHDOG_USEC"] = str(self.watchdog_usec)
        argv = [harness.HOOKD_BIN, "--socket", self.named, "--data", self.data,
                "--config", self.config_path]
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        pid = os.fork()
        if pid == 0:  # the child: becomes hookd, as systemd's would
            try:
                os.dup2(log, 1)
                os.dup2(log, 2)
                if self.listener.fileno() == 3:
                    os.set_inheritable(3, True)
                else:
                    os.dup2(self.listener.fileno(), 3)  # dup2 clears close-on-exec
                os.closerange(4, 256)
                env["LISTEN_FDS"] = "1"
                env["LISTEN_PID"] = str(os.getpid() + self.listen_pid_offset)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        os.close(log)
        self.pid = pid
        return self

    def recv(self, want, timeout=15.0):
        """Reads notify datagrams until one holds the line want; returns the lines seen so far."""
        end = time.time() + timeout
        while time.time() < end:
            self.notify.settimeout(max(0.01, end - time.time()))
            try:
                data = self.notify.recv(4096).decode()
            except socket.timeout:
                break
            lines = data.split("\n")
            self.messages.extend(lines)
            if want in lines:
                return self.messages
        raise AssertionError("no %s on NOTIFY_SOCKET within %ss (got %r); log:\n%s"
                             % (want, timeout, self.messages, self.read_log()))

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait(self, timeout=20.0):
        end = time.time() + timeout
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.pid = None
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.02)
        raise AssertionError("hookd did not exit; log:\n" + self.read_log())

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def cleanup(self):
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        self.listener.close()
        self.notify.close()
        shutil.rmtree(self.base, ignore_errors=True)


BUILT_WITH_SYSTEMD = built_with_systemd()


class SocketActivation(unittest.TestCase):
    """With libsystemd (scripts/deps installs libsystemd-dev, HK_SYSTEMD=AUTO finds it)."""

    def manager(self, **kw):
        m = Manager(**kw)
        self.addCleanup(m.cleanup)
        return m.start()

    def test_serves_handed_socket_and_notifies(self):
        m = self.manager(watchdog_usec=200000)
        if not BUILT_WITH_SYSTEMD:
            return self.check_without_libsystemd(m)
        m.recv("READY=1")
        # Calls work on the socket the manager made; hookd made none of its own.
        with grpc.insecure_channel("unix://" + m.socket) as ch:
            stub = pb_grpc_stub(ch)
            created = stub.CreateWebhook(pb.CreateWebhookRequest(
                name="activated", application=pb.APPLICATION_ENTERPRISE, trigger_action="SvcOne",
                url="https://hooks.example.com/a"))
            self.assertGreater(created.id, 0)
            keys = [a.key for a in stub.ListTriggerActions(pb.ListTriggerActionsRequest()).trigger_actions]
            self.assertIn("SvcOne", keys)
        self.assertFalse(os.path.exists(m.named), "hookd created its own socket")
        log = m.read_log()
        self.assertIn("activated=1", log)
        self.assertIn("socket=%s " % m.socket, log)  # the socket really served, by its name
        self.assertIn("serving unix://%s " % m.socket, log)
        # Pings at half of WATCHDOG_USEC (100 ms): several within a second.
        t0 = time.time()
        seen = 0
        while time.time() - t0 < 1.0:
            before = len(m.messages)
            m.recv("WATCHDOG=1", timeout=2.0)
            seen += m.messages[before:].count("WATCHDOG=1")
        self.assertGreaterEqual(seen, 4, m.messages)
        self.assertLessEqual(seen, 15, m.messages)

        # SIGHUP: RELOADING=1, then READY=1 again.
        m.messages.clear()
        m.signal(signal.SIGHUP)
        m.recv("RELOADING=1")
        after = m.recv("READY=1")
        self.assertLess(after.index("RELOADING=1"), after.index("READY=1"))

        m.signal(signal.SIGTERM)
        m.recv("STOPPING=1")
        self.assertEqual(m.wait(), 0, m.read_log())
        # The socket is the manager's: still there, and still a socket.
        self.assertTrue(os.path.exists(m.socket), "hookd unlinked the handed-over socket")
        self.assertIn("event=stopped", m.read_log())

    def check_without_libsystemd(self, m):
        """Built without libsystemd: the handed socket is ignored (and said so), hookd binds its
        own, and nothing is sent to NOTIFY_SOCKET."""
        harness_wait_for(m.named, m)
        self.assertIn("built without libsystemd: the handed socket is ignored", m.read_log())
        m.signal(signal.SIGTERM)
        self.assertEqual(m.wait(), 0, m.read_log())
        m.notify.settimeout(0.2)
        with self.assertRaises(socket.timeout):
            m.notify.recv(4096)

    def test_socket_survives_restart(self):
        """As with systemd: a connection queued while hookd restarts is served by the next one."""
        if not BUILT_WITH_SYSTEMD:
            return self.check_without_libsystemd(self.manager())
        first = self.manager()
        first.recv("READY=1")
        first.signal(signal.SIGTERM)
        self.assertEqual(first.wait(), 0, first.read_log())
        # Between the two hookds the manager's socket still accepts (the backlog holds it).
        pending = socket.socket(socket.AF_UNIX)
        self.addCleanup(pending.close)
        pending.connect(first.socket)
        second = Manager()
        self.addCleanup(second.cleanup)
        second.listener.close()
        second.listener = first.listener  # the same listening socket, handed to a new hookd
        second.data = first.data
        second.start()
        second.recv("READY=1")
        # The connection made while no hookd ran is served: once it sends the HTTP/2
        # preface (hookd tells HTTP/2 from HTTP/1.1 by it), the server's SETTINGS arrive.
        pending.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        pending.settimeout(10)
        head = pending.recv(9)
        self.assertEqual(len(head), 9)
        self.assertEqual(head[3], 0x4, "first frame is SETTINGS")
        with grpc.insecure_channel("unix://" + first.socket) as ch:
            stub = pb_grpc_stub(ch)
            self.assertEqual(len(stub.ListWebhooks(pb.ListWebhooksRequest()).webhooks), 0)
        second.signal(signal.SIGTERM)
        self.assertEqual(second.wait(), 0, second.read_log())

    def test_listen_pid_of_another_process_is_ignored(self):
        """sd_listen_fds: LISTEN_FDS is for LISTEN_PID only; hookd then binds its own socket."""
        m = self.manager(listen_pid_offset=1)
        if not BUILT_WITH_SYSTEMD:
            return self.check_without_libsystemd(m)
        m.recv("READY=1")
        self.assertIn("activated=0", m.read_log())
        self.assertTrue(os.path.exists(m.named))
        with grpc.insecure_channel("unix://" + m.named) as ch:
            self.assertEqual(len(pb_grpc_stub(ch).ListWebhooks(pb.ListWebhooksRequest()).webhooks), 0)
        m.signal(signal.SIGTERM)
        m.recv("STOPPING=1")
        self.assertEqual(m.wait(), 0, m.read_log())
        self.assertFalse(os.path.exists(m.named), "hookd left its own socket behind")

    def test_wrong_kind_of_fd3_is_refused(self):
        m = self.manager(fd3=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
        if not BUILT_WITH_SYSTEMD:
            return self.check_without_libsystemd(m)
        self.assertEqual(m.wait(), 1, m.read_log())
        self.assertIn("fd 3 is not a listening Unix stream socket", m.read_log())
        self.assertNotIn("READY=1", m.messages)


class WithoutManager(unittest.TestCase):
    def test_no_notify_socket_no_watchdog(self):
        """Started by hand: nothing to notify, nothing handed over; it just serves."""
        h = harness.Hookd()
        self.addCleanup(h.cleanup)
        h.start()
        h.stub().ListWebhooks(pb.ListWebhooksRequest())  # answered: the start is over
        self.assertIn("activated=0 watchdog_ms=0", h.read_log())
        self.assertEqual(h.stop(), 0, h.read_log())

    def test_help_says_whether_systemd_is_built_in(self):
        out = subprocess.run([harness.HOOKD_BIN, "--help"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout, r"systemd: (serves the socket it is handed|this hookd was "
                                     r"built without libsystemd)")


def harness_wait_for(path, m, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
            return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("hookd did not serve %s; log:\n%s" % (path, m.read_log()))


def pb_grpc_stub(channel):
    return harness.pb_grpc.WebhooksStub(channel)


if __name__ == "__main__":
    unittest.main()
