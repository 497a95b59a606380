"""harness.py -- starts the real hookd on a temporary socket and data dir for end-to-end tests.

Environment (set by CTest): HOOKD_BIN, HOOKCTL_BIN, HK_PY_GEN (generated python stubs).
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import grpc

from hookd.v1 import webhooks_pb2 as pb  # noqa: E402  (generated from proto/)
from hookd.v1 import webhooks_pb2_grpc as pb_grpc  # noqa: E402
import health_pb2  # noqa: E402
import health_pb2_grpc  # noqa: E402

HOOKD_BIN = os.environ.get("HOOKD_BIN", "build/hookd")
HOOKCTL_BIN = os.environ.get("HOOKCTL_BIN", "build/client/hookctl")


class Hookd:
    """One hookd process on its own temporary directory."""

    def __init__(self, config="", args=(), base=None):
        self.base = base or tempfile.mkdtemp(prefix="hk-e2e-")
        self.socket = os.path.join(self.base, "hookd.sock")
        self.data = os.path.join(self.base, "data")
        self.config_path = os.path.join(self.base, "hookd.conf")
        self.log_path = os.path.join(self.base, "hookd.log")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.args = list(args)
        self.proc = None
        self._channel = None

    @property
    def target(self):
        return "unix://" + self.socket

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [HOOKD_BIN, "--socket", self.socket, "--data", self.data,
             "--config", self.config_path] + self.args,
            stdout=self.log, stderr=self.log)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15.0):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("hookd exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.socket)
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("hookd did not start:\n" + self.read_log())

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def channel(self):
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.target)
        return self._channel

    def stub(self):
        return pb_grpc.WebhooksStub(self.channel())

    def health(self):
        return health_pb2_grpc.HealthStub(self.channel())

    def close_channel(self):
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Stops hookd with sig and returns its exit code."""
        self.close_channel()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("hookd did not stop within %ss:\n%s" % (timeout, self.read_log()))
        finally:
            self.log.close()
        self.proc = None
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.log.close()
            self.proc = None
        shutil.rmtree(self.base, ignore_errors=True)


class HookdTestCase(unittest.TestCase):
    """A test case with a fresh hookd in self.hookd and a stub in self.stub.

    tearDown stops hookd with SIGTERM and checks it exited 0 (sanitizer
    reports make the exit code non-zero)."""

    config = ""
    args = ()
    # A directory for hookd's socket and data, or None for the system's temporary one. A test
    # that measures timing and not the disk names a tmpfs here ("/dev/shm"): an fdatasync
    # there returns at once.
    base_parent = None

    def new_base(self):
        """A fresh directory for a hookd under base_parent (None: Hookd makes its own)."""
        return tempfile.mkdtemp(prefix="hk-e2e-", dir=self.base_parent) if self.base_parent else None

    def setUp(self):
        self.hookd = Hookd(self.config, self.args, base=self.new_base())
        self.addCleanup(self.hookd.cleanup)
        self.hookd.start()
        self.stub = self.hookd.stub()

    def tearDown(self):
        if self.hookd.proc is not None:
            rc = self.hookd.stop()
            self.assertEqual(rc, 0, "hookd exit code; log:\n" + self.hookd.read_log())

    def assertStatus(self, code, fn, *args, **kw):
        """Calls fn and checks it fails with grpc status code; returns the error."""
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        return cm.exception
