"""test_connect_json.py -- every RPC as Connect JSON through curl on the Unix socket, the way the
README shows a newcomer (proto3 JSON: lowerCamelCase, enums by name, 64-bit ints as strings, bytes
as base64), and errors as HTTP status + {"code","message"} with gRPC's messages."""
import base64
import http.server
import json
import subprocess
import threading
import time
import unittest

import harness


class Receiver:
    def __init__(self):
        self.paths = []

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(h):
                h.rfile.read(int(h.headers.get("content-length", 0)))
                self.paths.append(h.path)
                h.send_response(200)
                h.send_header("content-length", "0")
                h.end_headers()

            def log_message(h, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class ConnectJson(harness.HookdTestCase):
    config = "retry_schedule = 0,1\n"

    def call(self, method, body, expect=200):
        """curl -d BODY as in the README; returns the decoded JSON answer."""
        out = subprocess.run(
            ["curl", "-sS", "--unix-socket", self.hookd.socket, "-H", "content-type: application/json",
             "-d", json.dumps(body) if not isinstance(body, str) else body,
             "-w", "\n%{http_code} %{content_type}",
             "http://localhost/hookd.v1.Webhooks/" + method], capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        text, _, status = out.stdout.decode().rpartition("\n")
        code, ctype = status.split(" ", 1)
        self.assertEqual(int(code), expect, text)
        self.assertEqual(ctype, "application/json")
        return json.loads(text)

    def test_readme_command(self):
        self.assertEqual(self.call("ListWebhooks", "{}"), {})

    def test_every_rpc(self):
        rx = Receiver()
        self.addCleanup(rx.stop)
        acts = self.call("ListTriggerActions", {"application": "APPLICATION_ENTERPRISE"})
        self.assertIn({"application": "APPLICATION_ENTERPRISE", "key": "AccountUpdated",
                       "displayName": "Account Update"}, acts["triggerActions"])
        wh = self.call("CreateWebhook", {
            "name": "json", "application": "APPLICATION_ENTERPRISE", "triggerAction": "AccountUpdated",
            "url": "http://127.0.0.1:%d/json" % rx.port, "asynchronous": True, "active": False,
            "timeoutSeconds": 20})
        self.assertIsInstance(wh["id"], str)  # uint64 as a string
        self.assertNotIn("active", wh)         # false: the default, omitted
        self.assertEqual(wh["timeoutSeconds"], 20)
        self.assertEqual(wh["authMethod"], "AUTH_METHOD_OAUTH")
        self.assertTrue(wh["secretKey"].startswith("whsec_"))
        got = self.call("GetWebhook", {"name": "JSON"})
        self.assertEqual((got["id"], got["secretKey"]), (wh["id"], "whsec_********"))
        got = self.call("GetWebhook", {"id": wh["id"], "revealSecret": True})
        self.assertEqual(got["secretKey"], wh["secretKey"])
        # snake_case names are accepted on input too.
        page = self.call("ListWebhooks", {"trigger_action": "AccountUpdated", "active": False})
        self.assertEqual([w["id"] for w in page["webhooks"]], [wh["id"]])
        up = self.call("UpdateWebhook", {"id": wh["id"], "active": True, "description": "via curl"})
        self.assertEqual((up["active"], up["description"]), (True, "via curl"))
        ev = self.call("TriggerEvent", {"application": "APPLICATION_ENTERPRISE",
                                        "triggerAction": "AccountUpdated", "eventId": "json-1",
                                        "payload": base64.b64encode(b'{"n":1}').decode()})
        self.assertEqual(ev["eventId"], "json-1")
        did = ev["queued"][0]["deliveryId"]
        end = time.monotonic() + 15
        while True:
            d = self.call("GetDelivery", {"id": did})
            if d.get("state") == "DELIVERY_STATE_SUCCEEDED":
                break
            self.assertLess(time.monotonic(), end, d)
            time.sleep(0.05)
        self.assertEqual(base64.b64decode(d["payload"]), b'{"n":1}')
        self.assertEqual(d["attempts"][0]["httpStatus"], 200)
        ls = self.call("ListDeliveries", {"webhookName": "json"})
        self.assertEqual(ls["deliveries"][0]["id"], did)
        again = self.call("RedeliverDelivery", {"id": did})
        self.assertNotEqual(again["id"], did)
        gone = self.call("DeleteWebhook", {"id": wh["id"]})
        self.assertEqual(gone["name"], "json")
        self.assertEqual(self.call("GetWebhook", {"id": wh["id"]}, expect=404)["code"], "not_found")

    def test_errors_carry_grpc_messages(self):
        err = self.call("CreateWebhook", {"name": "x", "application": "APPLICATION_ENTERPRISE",
                                          "triggerAction": "AccountUpdated", "url": "ftp://x"}, 400)
        self.assertEqual(err["code"], "invalid_argument")
        self.assertTrue(err["message"].startswith("url: "), err)
        # The same message as the gRPC side gives for the same request.
        import grpc
        from harness import pb
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.CreateWebhook(pb.CreateWebhookRequest(
                name="x", application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
                url="ftp://x"))
        self.assertEqual(cm.exception.details(), err["message"])
        self.assertEqual(self.call("ListWebhooks", "{nope", 400)["code"], "invalid_argument")
        self.assertIn("unknown field", self.call("ListWebhooks", {"nope": 1}, 400)["message"])
        self.assertIn("application", self.call("ListWebhooks", {"application": "MARS"}, 400)["message"])
        self.assertIn("event_id: contains a NUL byte", self.call(
            "TriggerEvent", {"application": "APPLICATION_ENTERPRISE", "triggerAction": "AccountUpdated",
                             "eventId": "a\u0000b"}, 400)["message"])
        self.assertEqual(self.call("Nope", {}, 404)["code"], "unimplemented")


if __name__ == "__main__":
    unittest.main()
