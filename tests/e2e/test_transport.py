"""test_transport.py -- the gRPC transport end to end: stock grpcio and a raw h2 client against the real hookd."""
import os
import socket
import struct
import subprocess
import threading
import unittest

import grpc
import h2.config
import h2.connection
import h2.events

import harness
from harness import health_pb2

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
IDENTITY = dict(request_serializer=None, response_deserializer=None)


def grpc_frame(body, flag=0):
    return struct.pack(">BI", flag, len(body)) + body


def h2_unary(sock_path, path, body=b"", headers=(), flag=0, timeout=10):
    """One unary call over a raw HTTP/2 connection (no gRPC library in the
    way). Returns (response headers + trailers as one dict, body bytes,
    number of HEADERS frames received)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(sock_path)
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"), (":path", path),
                            (":authority", "localhost"), ("content-type", "application/grpc"),
                            ("te", "trailers")] + list(headers))
    conn.send_data(sid, grpc_frame(body, flag), end_stream=True)
    s.sendall(conn.data_to_send())
    fields, data, header_frames, ended = {}, b"", 0, False
    try:
        while not ended:
            chunk = s.recv(65536)
            if not chunk:
                break
            for ev in conn.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived):
                    fields.update(ev.headers)
                    header_frames += 1
                elif isinstance(ev, h2.events.TrailersReceived):
                    fields.update(ev.headers)
                    header_frames += 1
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
    return fields, data, header_frames


def health_check(target, timeout=10):
    with grpc.insecure_channel(target) as ch:
        return harness.health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(), timeout=timeout)


def serving(resp):
    return resp.status == health_pb2.HealthCheckResponse.SERVING


class Calls(harness.HookdTestCase):
    def test_health_check_serving(self):
        resp = self.hookd.health().Check(health_pb2.HealthCheckRequest(), timeout=10)
        self.assertTrue(serving(resp), resp)

    def test_unknown_method_unimplemented(self):
        call = self.hookd.channel().unary_unary("/hookd.v1.Webhooks/NoSuchMethod", **IDENTITY)
        self.assertStatus(grpc.StatusCode.UNIMPLEMENTED, call, b"", timeout=10)

    def test_unknown_method_is_trailers_only(self):
        fields, data, frames = h2_unary(self.hookd.socket, "/nope.v1.Nope/Nothing")
        self.assertEqual(fields.get(":status"), "200")
        self.assertEqual(fields.get("content-type"), "application/grpc")
        self.assertEqual(fields.get("grpc-status"), "12")
        self.assertEqual(data, b"")
        self.assertEqual(frames, 1)

    def test_oversized_message_resource_exhausted(self):
        call = self.hookd.channel().unary_unary("/hookd.v1.Webhooks/CreateWebhook", **IDENTITY)
        e = self.assertStatus(grpc.StatusCode.RESOURCE_EXHAUSTED, call, b"\0" * (5 << 20), timeout=30)
        self.assertIn("exceeds the limit", e.details())
        # The connection, and the daemon, serve on.
        self.assertTrue(serving(self.hookd.health().Check(health_pb2.HealthCheckRequest(), timeout=10)))

    def test_compressed_message_unimplemented(self):
        fields, _, _ = h2_unary(self.hookd.socket, HEALTH_CHECK, b"\x0a\x00", flag=1,
                                headers=[("grpc-encoding", "gzip")])
        self.assertEqual(fields.get("grpc-status"), "12")
        self.assertEqual(fields.get("grpc-accept-encoding"), "identity")

    def test_expired_deadline_answered_by_server(self):
        # grpcio would give up on its own clock; the raw client proves the
        # server itself answered DEADLINE_EXCEEDED.
        fields, data, frames = h2_unary(self.hookd.socket, HEALTH_CHECK,
                                        headers=[("grpc-timeout", "1n")])
        self.assertEqual(fields.get("grpc-status"), "4", fields)
        self.assertEqual(data, b"")
        # A sane deadline on the same path works.
        fields, data, _ = h2_unary(self.hookd.socket, HEALTH_CHECK, headers=[("grpc-timeout", "5S")])
        self.assertEqual(fields.get("grpc-status"), "0", fields)

    def test_malformed_timeout_internal(self):
        fields, _, _ = h2_unary(self.hookd.socket, HEALTH_CHECK, headers=[("grpc-timeout", "soon")])
        self.assertEqual(fields.get("grpc-status"), "13", fields)

    def test_grpc_message_percent_encoded_on_the_wire(self):
        # The dispatcher's UNIMPLEMENTED message names the path; a path with
        # a '%' and a non-ASCII byte must come back percent-encoded.
        fields, _, _ = h2_unary(self.hookd.socket, "/x.y/%41é")
        msg = fields.get("grpc-message", "")
        self.assertTrue(all(0x20 <= ord(c) <= 0x7E for c in msg), msg)
        self.assertNotIn("é", msg)

    def test_garbage_then_next_client_served(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.hookd.socket)
        s.sendall(b"GET / HTTP/1.1\r\nHost: hookd\r\n\r\n" + os.urandom(512))
        # The server hangs up on it (it may send a frame or two first).
        while s.recv(4096):
            pass
        s.close()
        self.assertTrue(serving(health_check(self.hookd.target)))

    def test_200_concurrent_calls_on_one_channel(self):
        stub = self.hookd.health()
        futures = [stub.Check.future(health_pb2.HealthCheckRequest(), timeout=30) for _ in range(200)]
        self.assertTrue(all(serving(f.result()) for f in futures))

    def test_50_connections_at_once(self):
        channels = [grpc.insecure_channel(self.hookd.target,
                                          options=[("grpc.use_local_subchannel_pool", 1)])
                    for _ in range(50)]
        try:
            futures = [harness.health_pb2_grpc.HealthStub(ch).Check.future(
                health_pb2.HealthCheckRequest(), timeout=30) for ch in channels]
            self.assertTrue(all(serving(f.result()) for f in futures))
        finally:
            for ch in channels:
                ch.close()

    def test_50_raw_connections_at_once(self):
        # 50 raw HTTP/2 connections started together (a barrier), each with a call.
        results = []
        lock = threading.Lock()
        barrier = threading.Barrier(50)

        def one():
            try:
                barrier.wait(timeout=30)
                fields, _, _ = h2_unary(self.hookd.socket, HEALTH_CHECK)
                got = fields.get("grpc-status")
            except Exception as e:  # reported in the assertion below
                got = repr(e)
            with lock:
                results.append(got)

        threads = [threading.Thread(target=one) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(results, ["0"] * 50)


class Socket(unittest.TestCase):
    def start(self, **kw):
        h = harness.Hookd(**kw)
        self.addCleanup(h.cleanup)
        return h

    def test_second_hookd_refuses_live_socket(self):
        first = self.start().start()
        second = self.start()
        second.socket = first.socket  # same socket, its own data dir
        second.start(wait=False)
        rc = second.proc.wait(30)
        second.log.close()
        second.proc = None
        self.assertNotEqual(rc, 0, second.read_log())
        self.assertIn("socket", second.read_log())
        self.assertTrue(os.path.exists(first.socket))
        self.assertTrue(serving(health_check(first.target)))
        self.assertEqual(first.stop(), 0, first.read_log())

    def test_stale_socket_replaced(self):
        h = self.start()
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(h.socket)  # a socket file nobody listens on: a crashed hookd's
        stale.close()
        self.assertTrue(os.path.exists(h.socket))
        h.start()
        self.assertTrue(serving(health_check(h.target)))
        self.assertEqual(h.stop(), 0, h.read_log())

    def test_socket_mode(self):
        h = self.start().start()
        self.assertEqual(os.stat(h.socket).st_mode & 0o777, 0o660)
        self.assertEqual(h.stop(), 0, h.read_log())

    def test_sigterm_exits_0_and_removes_socket(self):
        h = self.start().start()
        self.assertTrue(serving(health_check(h.target)))
        self.assertEqual(h.stop(), 0, h.read_log())
        self.assertFalse(os.path.exists(h.socket))

    def test_sigterm_with_connected_idle_client(self):
        h = self.start().start()
        ch = grpc.insecure_channel(h.target)
        self.addCleanup(ch.close)
        self.assertTrue(serving(harness.health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(), timeout=10)))
        # The open channel must not hold the stop up for the grace period.
        h.proc.terminate()
        rc = h.proc.wait(5)
        h.log.close()
        h.proc = None
        self.assertEqual(rc, 0, h.read_log())
        self.assertFalse(os.path.exists(h.socket))


if __name__ == "__main__":
    unittest.main()
