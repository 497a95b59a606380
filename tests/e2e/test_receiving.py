"""test_receiving.py -- docs/RECEIVING.md's Python and Node receivers, as written, verify what a
real hookd sends (async and sync), and refuse a forged request."""
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import docblocks
import harness
from harness import pb

NODE_MODULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node", "node_modules")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiving(harness.HookdTestCase):
    def run_receiver(self, lang, cmd):
        (code,) = docblocks.blocks("docs/RECEIVING.md", lang)
        d = tempfile.mkdtemp(prefix="hk-recv-")
        path = os.path.join(d, "receive." + ("py" if lang == "python" else "js"))
        with open(path, "w") as f:
            f.write(code)
        port = free_port()
        url = "http://127.0.0.1:%d/hook" % port
        wh = self.stub.CreateWebhook(pb.CreateWebhookRequest(
            name="docs-" + lang, application=pb.APPLICATION_ENTERPRISE,
            trigger_action="AccountUpdated", url=url, asynchronous=True))
        env = dict(os.environ, HOOKD_SECRET=wh.secret_key, HOOKD_URL=url, NODE_PATH=NODE_MODULES)
        out = open(os.path.join(d, "out"), "w+")
        proc = subprocess.Popen(cmd + [path], env=env, stdout=out, stderr=subprocess.STDOUT)
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        end = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                self.assertIsNone(proc.poll(), open(out.name).read())
                self.assertLess(time.monotonic(), end, "receiver did not listen")
                time.sleep(0.05)
        return wh, url, out

    def check(self, lang, cmd):
        wh, url, out = self.run_receiver(lang, cmd)
        r = self.stub.TriggerEvent(pb.TriggerEventRequest(
            application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
            payload=b'{"account":7}', event_id="docs-evt-1"), timeout=20)
        self.assertEqual(len(r.queued), 1)
        # A forged request (wrong signature) is refused with 401.
        req = urllib.request.Request(url, data=b'{"id":"x"}', method="POST", headers={
            "webhook-id": "x", "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,AAAA", "authorization": "Bearer a.b.c",
            "content-type": "application/json"})
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req, timeout=5)
        self.assertEqual(cm.exception.code, 401)
        end = time.monotonic() + 15
        while True:
            d = self.stub.GetDelivery(pb.GetDeliveryRequest(id=r.queued[0].delivery_id))
            if d.state == pb.DELIVERY_STATE_SUCCEEDED:
                break
            self.assertLess(time.monotonic(), end, open(out.name).read())
            time.sleep(0.05)
        self.assertEqual(d.attempts[-1].http_status, 204)
        printed = open(out.name).read()
        self.assertIn('verified docs-evt-1 AccountUpdated {"account": 7}'
                      if lang == "python" else 'verified docs-evt-1 AccountUpdated {"account":7}', printed)
        self.assertIn("refused:", printed)

    def test_python_receiver(self):
        self.check("python", [sys.executable])

    def test_node_receiver(self):
        self.check("js", ["node"])


if __name__ == "__main__":
    unittest.main()
