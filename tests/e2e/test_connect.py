"""test_connect.py -- HTTP/1.1 and the Connect protocol on hookd's socket: curl, http.client,
raw sockets and a raw h2 client against the real hookd."""
import http.client
import json
import os
import socket
import subprocess
import tempfile
import unittest

import grpc
import h2.config
import h2.connection
import h2.events

import harness
from harness import pb, health_pb2

SVC = "/hookd.v1.Webhooks/"
HEALTH = "/grpc.health.v1.Health/Check"
PROTO = "application/proto"
NOBODY = 65534


def create_req(name="Account sync", **kw):
    fields = dict(name=name, application=pb.APPLICATION_ENTERPRISE,
                  trigger_action="AccountUpdated", url="https://hooks.example.com/momentus")
    fields.update(kw)
    return pb.CreateWebhookRequest(**fields)


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over hookd's Unix socket."""

    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def raw_exchange(path, data, timeout=10):
    """Sends data on a fresh connection and reads until the server closes."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out


def h2_connect(sock_path, path, body, content_type=PROTO, timeout=10):
    """One Connect unary call over a raw HTTP/2 connection: (headers, body)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(sock_path)
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"), (":path", path),
                            (":authority", "localhost"), ("content-type", content_type),
                            ("connect-protocol-version", "1")])
    conn.send_data(sid, body, end_stream=True)
    s.sendall(conn.data_to_send())
    fields, data, ended = {}, b"", False
    try:
        while not ended:
            chunk = s.recv(65536)
            if not chunk:
                break
            for ev in conn.receive_data(chunk):
                if isinstance(ev, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                    fields.update(ev.headers)
                elif isinstance(ev, h2.events.DataReceived):
                    data += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    ended = True
            out = conn.data_to_send()
            if out:
                s.sendall(out)
    finally:
        s.close()
    return fields, data


class ConnectTestCase(harness.HookdTestCase):
    def post(self, conn, method, msg, content_type=PROTO, headers=None):
        """POSTs msg (a protobuf message or bytes) to a Webhooks method on conn:
        (status, response headers, body bytes)."""
        body = msg if isinstance(msg, bytes) else msg.SerializeToString()
        h = {"Content-Type": content_type}
        h.update(headers or {})
        path = method if method.startswith("/") else SVC + method
        conn.request("POST", path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, r.headers, r.read()

    def conn(self):
        c = UnixHTTPConnection(self.hookd.socket)
        self.addCleanup(c.close)
        return c

    def curl(self, *args, user=None):
        cmd = ["curl", "-sS", "--unix-socket", self.hookd.socket] + list(args)
        if user is not None:
            cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
        return subprocess.run(cmd, capture_output=True, timeout=60, cwd="/")

    def assertConnectError(self, status, headers, body, http_status, code):
        self.assertEqual(status, http_status, body)
        self.assertEqual(headers["Content-Type"], "application/json")
        err = json.loads(body)
        self.assertEqual(err["code"], code, err)
        return err


class Http1(ConnectTestCase):
    def test_curl_keep_alive_two_requests_one_connection(self):
        url = "http://hookd" + HEALTH
        out = self.curl("-X", "POST", "-H", "Content-Type: application/proto", "--data-binary", "",
                        "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n", url, url)
        self.assertEqual(out.returncode, 0, out.stderr)
        # The second request reused the first one's connection (no new connect).
        self.assertEqual(out.stdout.decode().split("\n")[:2], ["200 1", "200 0"])

    def test_keep_alive_http_client(self):
        c = self.conn()
        st, _, body = self.post(c, HEALTH, health_pb2.HealthCheckRequest())
        self.assertEqual(st, 200)
        first = c.sock
        st, _, body = self.post(c, HEALTH, health_pb2.HealthCheckRequest())
        self.assertEqual(st, 200)
        self.assertIs(c.sock, first)  # not reconnected
        self.assertEqual(health_pb2.HealthCheckResponse.FromString(body).status,
                         health_pb2.HealthCheckResponse.SERVING)

    def test_pipelined_requests_answered_in_order(self):
        get = pb.GetWebhookRequest(id=777).SerializeToString()
        req = (b"POST " + (SVC + "GetWebhook").encode() + b" HTTP/1.1\r\nHost: h\r\n"
               b"Content-Type: application/proto\r\nContent-Length: %d\r\n\r\n" % len(get) + get)
        last = (b"POST " + HEALTH.encode() + b" HTTP/1.1\r\nHost: h\r\n"
                b"Content-Type: application/proto\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        out = raw_exchange(self.hookd.socket, req + last)
        first, _, rest = out.partition(b"HTTP/1.1 200 OK\r\n")
        self.assertTrue(first.startswith(b"HTTP/1.1 404 Not Found\r\n"), out)
        self.assertIn(b'"code":"not_found"', first)
        self.assertIn(b"Connection: close", rest)

    def test_chunked_request_body(self):
        c = self.conn()
        body = create_req("chunked").SerializeToString()
        pieces = [body[:7], body[7:20], body[20:]]
        c.request("POST", SVC + "CreateWebhook", body=iter(pieces),
                  headers={"Content-Type": PROTO}, encode_chunked=True)
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        self.assertEqual(pb.Webhook.FromString(r.read()).name, "chunked")

    def test_curl_chunked_request_body(self):
        with tempfile.NamedTemporaryFile() as f:
            f.write(create_req("curl chunked").SerializeToString())
            f.flush()
            out = self.curl("-H", "Content-Type: application/proto", "-H",
                            "Transfer-Encoding: chunked", "--data-binary", "@" + f.name,
                            "http://hookd" + SVC + "CreateWebhook")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(pb.Webhook.FromString(out.stdout).name, "curl chunked")

    def test_oversized_header_431(self):
        out = self.curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Big: " + "b" * 20000,
                        "-H", "Content-Type: application/proto", "--data-binary", "",
                        "http://hookd" + HEALTH)
        self.assertEqual(out.stdout, b"431", out.stderr)
        self.assertEqual(self.post(self.conn(), HEALTH, b"")[0], 200)  # still serving

    def test_oversized_body_413(self):
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"\0" * (5 << 20))  # over the 4 MiB message limit
            f.flush()
            out = self.curl("-w", "\n%{http_code}", "-H", "Content-Type: application/proto",
                            "--data-binary", "@" + f.name, "http://hookd" + SVC + "CreateWebhook")
        body, _, code = out.stdout.rpartition(b"\n")
        self.assertEqual(code, b"413", out.stderr)
        self.assertEqual(json.loads(body)["code"], "resource_exhausted")

    def test_bad_request_400_and_closed(self):
        out = raw_exchange(self.hookd.socket, b"GARBAGE\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400 Bad Request\r\n"), out)
        self.assertIn(b"Connection: close\r\n", out)
        self.assertEqual(json.loads(out.partition(b"\r\n\r\n")[2])["code"], "invalid_argument")

    def test_both_lengths_refused(self):
        # Content-Length and chunked at once: the request-smuggling shape.
        out = raw_exchange(self.hookd.socket,
                           b"POST " + HEALTH.encode() + b" HTTP/1.1\r\nHost: h\r\n"
                           b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out)

    def test_http10_served_then_closed(self):
        out = raw_exchange(self.hookd.socket,
                           b"POST " + HEALTH.encode() + b" HTTP/1.0\r\n"
                           b"Content-Type: application/proto\r\nContent-Length: 0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200 OK\r\n"), out)
        self.assertEqual(out.count(b"HTTP/1.1"), 1)  # and the server closed the connection

    def test_http2_version_505(self):
        out = raw_exchange(self.hookd.socket, b"POST / HTTP/2.5\r\nHost: h\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 505 "), out)

    def test_connection_close_honoured(self):
        c = self.conn()
        st, headers, _ = self.post(c, HEALTH, b"", headers={"Connection": "close"})
        self.assertEqual(st, 200)
        self.assertEqual(headers["Connection"], "close")
        self.assertEqual(c.sock.recv(1) if c.sock else b"", b"")  # EOF: closed by hookd

    def test_wrong_method_405(self):
        out = self.curl("-w", "\n%{http_code}", "http://hookd" + HEALTH)
        body, _, code = out.stdout.rpartition(b"\n")
        self.assertEqual(code, b"405")
        self.assertEqual(json.loads(body)["code"], "unimplemented")

    def test_unsupported_content_type_415(self):
        c = self.conn()
        st, h, body = self.post(c, HEALTH, b"", content_type="text/plain")
        self.assertConnectError(st, h, body, 415, "invalid_argument")
        # gRPC needs HTTP/2: refused on HTTP/1.1 with the reason.
        st, h, body = self.post(c, HEALTH, b"", content_type="application/grpc")
        err = self.assertConnectError(st, h, body, 415, "invalid_argument")
        self.assertIn("HTTP/2", err["message"])

    def test_charset_parameter_tolerated(self):
        c = self.conn()
        st, h, _ = self.post(c, HEALTH, b"", content_type="application/proto; charset=utf-8")
        self.assertEqual(st, 200)
        self.assertEqual(h["Content-Type"], PROTO)

    def test_protocol_version_and_timeout_headers(self):
        c = self.conn()
        st, _, _ = self.post(c, HEALTH, b"", headers={"Connect-Protocol-Version": "1",
                                                      "Connect-Timeout-Ms": "5000"})
        self.assertEqual(st, 200)
        st, h, body = self.post(c, HEALTH, b"", headers={"Connect-Protocol-Version": "2"})
        self.assertConnectError(st, h, body, 400, "invalid_argument")
        st, h, body = self.post(c, HEALTH, b"", headers={"Connect-Timeout-Ms": "-5"})
        err = self.assertConnectError(st, h, body, 400, "invalid_argument")
        self.assertIn("Connect-Timeout-Ms", err["message"])

    def test_unknown_method_404(self):
        c = self.conn()
        st, h, body = self.post(c, "Nope", b"")
        err = self.assertConnectError(st, h, body, 404, "unimplemented")
        self.assertIn("Nope", err["message"])

    def test_grpc_still_served_beside_http1(self):
        c = self.conn()
        self.assertEqual(self.post(c, HEALTH, b"")[0], 200)
        resp = self.hookd.health().Check(health_pb2.HealthCheckRequest(), timeout=10)
        self.assertEqual(resp.status, health_pb2.HealthCheckResponse.SERVING)
        self.assertEqual(self.post(c, HEALTH, b"")[0], 200)  # the HTTP/1.1 connection lives on


class ConnectProto(ConnectTestCase):
    def test_create_get_list_round_trip(self):
        c = self.conn()
        st, h, body = self.post(c, "CreateWebhook", create_req("round trip"))
        self.assertEqual(st, 200, body)
        self.assertEqual(h["Content-Type"], PROTO)
        created = pb.Webhook.FromString(body)
        self.assertEqual(created.name, "round trip")
        self.assertTrue(created.secret_key.startswith("whsec_"))

        st, _, body = self.post(c, "GetWebhook", pb.GetWebhookRequest(id=created.id))
        self.assertEqual(st, 200, body)
        got = pb.Webhook.FromString(body)
        self.assertEqual((got.id, got.name, got.url), (created.id, created.name, created.url))

        st, _, body = self.post(c, "ListWebhooks", pb.ListWebhooksRequest())
        self.assertEqual(st, 200, body)
        listed = pb.ListWebhooksResponse.FromString(body)
        self.assertEqual([w.id for w in listed.webhooks], [created.id])
        # The same store the gRPC side sees.
        self.assertEqual(self.stub.GetWebhook(pb.GetWebhookRequest(id=created.id)).name,
                         "round trip")

    def test_not_found_maps_to_404_with_grpc_message(self):
        c = self.conn()
        st, h, body = self.post(c, "GetWebhook", pb.GetWebhookRequest(id=424242))
        err = self.assertConnectError(st, h, body, 404, "not_found")
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.GetWebhook(pb.GetWebhookRequest(id=424242))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(err["message"], cm.exception.details())

    def test_error_mapping(self):
        c = self.conn()
        self.assertEqual(self.post(c, "CreateWebhook", create_req("twice"))[0], 200)
        st, h, body = self.post(c, "CreateWebhook", create_req("twice"))
        self.assertConnectError(st, h, body, 409, "already_exists")
        st, h, body = self.post(c, "CreateWebhook", create_req("bad url", url="ftp://x"))
        err = self.assertConnectError(st, h, body, 400, "invalid_argument")
        self.assertTrue(err["message"].startswith("url"), err)
        st, h, body = self.post(c, "GetWebhook", b"\xff\xff\xff")
        self.assertConnectError(st, h, body, 400, "invalid_argument")

    def test_connect_on_http2(self):
        fields, body = h2_connect(self.hookd.socket, SVC + "CreateWebhook",
                                  create_req("over h2").SerializeToString())
        self.assertEqual(fields[":status"], "200")
        self.assertEqual(fields["content-type"], PROTO)
        self.assertNotIn("grpc-status", fields)
        self.assertEqual(pb.Webhook.FromString(body).name, "over h2")
        fields, body = h2_connect(self.hookd.socket, SVC + "GetWebhook",
                                  pb.GetWebhookRequest(id=999).SerializeToString())
        self.assertEqual(fields[":status"], "404")
        self.assertEqual(fields["content-type"], "application/json")
        self.assertEqual(json.loads(body)["code"], "not_found")

    def test_json_health(self):
        c = self.conn()
        st, h, body = self.post(c, HEALTH, b"{}", content_type="application/json")
        self.assertEqual((st, h["Content-Type"]), (200, "application/json"), body)
        self.assertEqual(json.loads(body), {"status": "SERVING"})


@unittest.skipUnless(os.geteuid() == 0, "needs root to run a caller as nobody")
class Roles(ConnectTestCase):
    def setUp(self):
        # nobody must reach the socket: a world-traversable directory and a
        # world-writable socket (connect(2) needs write permission).
        base = tempfile.mkdtemp(prefix="hk-e2e-connect-", dir="/tmp")
        os.chmod(base, 0o755)
        self.hookd = harness.Hookd("", ("--set", "socket_mode=0666"), base=base)
        self.addCleanup(self.hookd.cleanup)
        self.hookd.start()
        self.stub = self.hookd.stub()

    def test_permission_denied_for_nobody_on_http1(self):
        with tempfile.NamedTemporaryFile(dir=self.hookd.base) as f:
            f.write(create_req("from nobody").SerializeToString())
            f.flush()
            os.chmod(f.name, 0o644)
            out = self.curl("-w", "\n%{http_code}", "-H", "Content-Type: application/proto",
                            "--data-binary", "@" + f.name, "http://hookd" + SVC + "CreateWebhook",
                            user=NOBODY)
        body, _, code = out.stdout.rpartition(b"\n")
        self.assertEqual(code, b"403", out.stderr)
        err = json.loads(body)
        self.assertEqual(err, {"code": "permission_denied",
                               "message": "uid %d may not call CreateWebhook" % NOBODY})
        self.assertEqual(len(self.stub.ListWebhooks(pb.ListWebhooksRequest()).webhooks), 0)
        # root, on the same socket, may.
        out = self.curl("-w", "\n%{http_code}", "-H", "Content-Type: application/proto",
                        "--data-binary", create_req("from root").SerializeToString(),
                        "http://hookd" + SVC + "CreateWebhook")
        self.assertEqual(out.stdout.rpartition(b"\n")[2], b"200", out.stderr)


if __name__ == "__main__":
    unittest.main()
