#!/usr/bin/python3
"""make_corpus.py -- writes the seed corpora of tests/fuzz/corpus/<target>/ (files seed-*).

Usage: /usr/bin/python3 tests/fuzz/make_corpus.py [PY_GEN]
PY_GEN is the directory of the Python stubs a build generates (default build/py: any
`cmake --build build` makes them). Seeds are small real inputs in each harness's input format
(see the comment at the top of tests/fuzz/fuzz_<target>.c). Old seed-* files are replaced;
every other entry is kept: what scripts/fuzz merged in (named by its SHA-1) and regress-* (inputs
that once found a bug).
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "py")))

from google.protobuf import json_format  # noqa: E402
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import health_pb2 as hp  # noqa: E402
from hookd.v1 import webhooks_pb2 as pb  # noqa: E402

ENT, ELITE = pb.APPLICATION_ENTERPRISE, pb.APPLICATION_ELITE
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def clean(target):
    d = os.path.join(HERE, "corpus", target)
    if os.path.isdir(d):
        for n in os.listdir(d):
            if n.startswith("seed-"):
                os.remove(os.path.join(d, n))


# --- requests: one list per RPC, in hk_rpc_methods order (server/api/methods.c) ---------------

def requests():
    return [
        ("Check", [hp.HealthCheckRequest(), hp.HealthCheckRequest(service="hookd.v1.Webhooks")]),
        ("CreateWebhook", [
            pb.CreateWebhookRequest(name="Orders", application=ENT, trigger_action="AccountUpdated",
                                    url="https://receiver.example/hook"),
            pb.CreateWebhookRequest(name="Local", application=ELITE, trigger_action="AccountUpdated",
                                    url="http://127.0.0.1:8080/h?x=1", timeout_seconds=30,
                                    secret_key="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                    asynchronous=True, ignore_for_api=True, active=False,
                                    description="a webhook\nwith two lines",
                                    auth_method=pb.AUTH_METHOD_OAUTH),
            pb.CreateWebhookRequest(name="async", application=ENT, trigger_action="AccountUpdated",
                                    url="https://[::1]:8443/", asynchronous=True),
        ]),
        ("GetWebhook", [pb.GetWebhookRequest(id=1), pb.GetWebhookRequest(name="sync", reveal_secret=True),
                        pb.GetWebhookRequest(id=99)]),
        ("ListWebhooks", [pb.ListWebhooksRequest(),
                          pb.ListWebhooksRequest(application=ENT, trigger_action="AccountUpdated",
                                                 active=True, page_size=2),
                          pb.ListWebhooksRequest(page_size=1, page_token="2")]),
        ("UpdateWebhook", [
            pb.UpdateWebhookRequest(id=1, new_name="Renamed", url="https://other.example/x",
                                    timeout_seconds=60, description="d"),
            pb.UpdateWebhookRequest(name="Inactive", active=True),
            pb.UpdateWebhookRequest(id=2, secret_key="", asynchronous=True, ignore_for_api=True),
            pb.UpdateWebhookRequest(name="Elite", application=ENT, trigger_action="AccountUpdated"),
        ]),
        ("DeleteWebhook", [pb.DeleteWebhookRequest(id=1), pb.DeleteWebhookRequest(name="Sync")]),
        ("ListTriggerActions", [pb.ListTriggerActionsRequest(),
                                pb.ListTriggerActionsRequest(application=ELITE)]),
        ("TriggerEvent", [
            pb.TriggerEventRequest(application=ENT, trigger_action="AccountUpdated",
                                   payload=b'{"account":{"id":42}}', origin=pb.ORIGIN_USER,
                                   event_id="evt-1"),
            pb.TriggerEventRequest(application=ENT, trigger_action="AccountUpdated",
                                   payload=b'[1,2,{"a":null}]', origin=pb.ORIGIN_API),
            pb.TriggerEventRequest(application=ENT, trigger_action="AccountUpdated",
                                   payload=b'{"x":1}', event_id="evt-template"),
            pb.TriggerEventRequest(application=ELITE, trigger_action="AccountUpdated", payload=b"true"),
        ]),
        ("ListDeliveries", [pb.ListDeliveriesRequest(),
                            pb.ListDeliveriesRequest(webhook_id=1, state=pb.DELIVERY_STATE_PENDING,
                                                     page_size=1),
                            pb.ListDeliveriesRequest(webhook_name="Sync", page_token="2")]),
        ("GetDelivery", [pb.GetDeliveryRequest(id=1), pb.GetDeliveryRequest(id=2)]),
        ("RedeliverDelivery", [pb.RedeliverDeliveryRequest(id=1), pb.RedeliverDeliveryRequest(id=2)]),
    ]


def rpc_corpus():
    clean("rpc")
    for i, (name, reqs) in enumerate(requests()):
        for j, r in enumerate(reqs):
            body = r.SerializeToString()
            write("rpc", "%s-%d" % (name, j), bytes([i]) + body)
        # The same as a caller without a role, and cancelled at once.
        write("rpc", "%s-norole" % name, bytes([0x80 | i]) + reqs[0].SerializeToString())
        write("rpc", "%s-cancel" % name, bytes([0x40 | i]) + reqs[0].SerializeToString())
        # As Connect JSON (where the transport has Connect).
        write("rpc", "%s-json" % name, bytes([0x10 | i]) + json_format.MessageToJson(reqs[0], indent=None).encode())
    write("rpc", "Check-stopping", bytes([0x20]))
    write("rpc", "unknown-method", bytes([0x0f]))


# --- proto3 JSON: the type order of fuzz_pbjson.c's types[] ------------------------------------

def pbjson_corpus():
    clean("pbjson")
    reqs = requests()
    for i, (name, msgs) in enumerate(reqs):
        for j, m in enumerate(msgs):
            text = json_format.MessageToJson(m, indent=None)
            write("pbjson", "%s-%d" % (name, j), bytes([i]) + text.encode())
            # The proto field names are accepted too.
            text = json_format.MessageToJson(m, indent=None, preserving_proto_field_name=True)
            write("pbjson", "%s-%d-proto-names" % (name, j), bytes([i]) + text.encode())
    wh = pb.Webhook(id=7, name="Orders", application=ENT, trigger_action="AccountUpdated",
                    url="https://receiver.example/hook", auth_method=pb.AUTH_METHOD_OAUTH,
                    timeout_seconds=15, secret_key="whsec_x", asynchronous=True, active=True,
                    description="\u00e9t\u00e9 \u2713", create_time=1700000000000, update_time=-1)
    att = pb.Attempt(time=1700000000123, outcome=pb.OUTCOME_HTTP_ERROR, http_status=500,
                     duration_ms=12, error="HTTP 500", response_body=b"\x00\xffbody")
    dl = pb.Delivery(id=3, webhook_id=7, webhook_name="Orders", event_id="e", application=ENT,
                     trigger_action="AccountUpdated", origin=pb.ORIGIN_API, asynchronous=True,
                     state=pb.DELIVERY_STATE_PENDING, create_time=1, next_attempt_time=2,
                     attempt_count=1, attempts=[att], payload=b'{"a":1}')
    sr = pb.SyncResult(webhook_id=7, webhook_name="Orders", outcome=pb.OUTCOME_SUCCEEDED,
                       http_status=200, duration_ms=3, response_body=b"ok", delivery_id=4)
    responses = [
        hp.HealthCheckResponse(status=hp.HealthCheckResponse.SERVING),
        wh,
        pb.ListWebhooksResponse(webhooks=[wh, wh], next_page_token="8"),
        pb.TriggerAction(application=ELITE, key="AccountUpdated", display_name="Account Update"),
        pb.ListTriggerActionsResponse(trigger_actions=[pb.TriggerAction(application=ENT, key="K",
                                                                        display_name="D")]),
        sr,
        pb.QueuedDelivery(delivery_id=1, webhook_id=2, webhook_name="n"),
        pb.TriggerEventResponse(event_id="e", results=[sr], queued=[pb.QueuedDelivery(delivery_id=1)],
                                duplicate=True),
        att,
        dl,
        pb.ListDeliveriesResponse(deliveries=[dl], next_page_token="2"),
    ]
    for k, m in enumerate(responses):
        text = json_format.MessageToJson(m, indent=None)
        write("pbjson", "%s" % m.DESCRIPTOR.name, bytes([len(reqs) + k]) + text.encode())
    # Spellings the decoder accepts besides the canonical ones.
    write("pbjson", "numbers-as-strings", bytes([2]) + b'{"id":"12","revealSecret":true}')
    write("pbjson", "enum-number", bytes([7]) + b'{"application":1,"payload":"eyJhIjoxfQ","origin":null}')
    write("pbjson", "error-body", bytes([len(reqs) + len(responses)]) + "name: bad \u2713 \xff".encode("latin-1", "replace"))


# --- HTTP/2: what a gRPC client sends after the preface ----------------------------------------

def grpc_msg(body, compressed=0):
    return struct.pack(">BI", compressed, len(body)) + body


def h2_client():
    cfg = h2.config.H2Configuration(client_side=True, header_encoding=None,
                                    validate_outbound_headers=False,
                                    normalize_outbound_headers=False,
                                    validate_inbound_headers=False)
    c = h2.connection.H2Connection(config=cfg)
    c.initiate_connection()
    return c


def req_headers(path, extra=(), method="POST", ctype="application/grpc"):
    h = [(":method", method), (":scheme", "http"), (":path", path), (":authority", "localhost"),
         ("content-type", ctype), ("te", "trailers")]
    return h + list(extra)


SETTINGS_ACK = b"\x00\x00\x00\x04\x01\x00\x00\x00\x00"


def h2_stream(name, steps):
    c = h2_client()
    out = c.data_to_send()
    assert out.startswith(PREFACE)
    out = out[len(PREFACE):] + SETTINGS_ACK
    for step in steps:
        raw = step(c)
        out += c.data_to_send() + (raw or b"")
    write("h2", name, out)


def call(sid, path, body=b"x", extra=(), **kw):
    def step(c):
        c.send_headers(sid, req_headers(path, extra, **kw))
        c.send_data(sid, grpc_msg(body), end_stream=True)
    return step


def h2_corpus():
    clean("h2")
    hello = pb.GetWebhookRequest(id=1).SerializeToString()
    h2_stream("echo", [call(1, "/t/Echo", hello)])
    h2_stream("fail", [call(1, "/t/Fail")])
    h2_stream("later", [call(1, "/t/Later", b"later")])
    h2_stream("never", [call(1, "/t/Never")])
    h2_stream("unknown", [call(1, "/hookd.v1.Webhooks/GetWebhook", hello)])
    h2_stream("timeout", [call(1, "/t/Never", extra=[("grpc-timeout", "1m")]),
                          call(3, "/t/Echo", extra=[("grpc-timeout", "10S")])])
    h2_stream("encoding", [call(1, "/t/Echo", extra=[("grpc-encoding", "gzip"),
                                                     ("grpc-accept-encoding", "identity")])])
    h2_stream("bad-method", [call(1, "/t/Echo", method="GET")])
    h2_stream("bad-ctype", [call(1, "/t/Echo", ctype="text/plain")])
    h2_stream("grpc-proto-ctype", [call(1, "/t/Echo", ctype="application/grpc+proto")])
    h2_stream("many", [call(i, p) for i, p in zip(range(1, 16, 2), ["/t/Echo", "/t/Later", "/t/Fail",
                                                                    "/t/Never", "/t/Echo", "/t/Later",
                                                                    "/x", "/t/Echo"])])

    def split_message(c):
        c.send_headers(1, req_headers("/t/Echo"))
        m = grpc_msg(b"abcdefghij" * 20)
        c.send_data(1, m[:3])
        c.send_data(1, m[3:50])
        c.send_data(1, m[50:], end_stream=True)
    h2_stream("split-message", [split_message])

    def two_messages(c):
        c.send_headers(1, req_headers("/t/Echo"))
        c.send_data(1, grpc_msg(b"one") + grpc_msg(b"two"), end_stream=True)
    h2_stream("two-messages", [two_messages])

    def compressed_flag(c):
        c.send_headers(1, req_headers("/t/Echo"))
        c.send_data(1, grpc_msg(b"zz", compressed=1), end_stream=True)
    h2_stream("compressed-flag", [compressed_flag])

    def too_big(c):
        c.send_headers(1, req_headers("/t/Echo"))
        c.send_data(1, struct.pack(">BI", 0, 1 << 20) + b"x" * 100, end_stream=True)
    h2_stream("too-big", [too_big])

    def no_body(c):
        c.send_headers(1, req_headers("/t/Echo"), end_stream=True)
    h2_stream("no-body", [no_body])

    def trailers(c):
        c.send_headers(1, req_headers("/t/Echo"))
        c.send_data(1, grpc_msg(b"t"))
        c.send_headers(1, [("x-trailer", "1")], end_stream=True)
    h2_stream("request-trailers", [trailers])

    def reset(c):
        c.send_headers(1, req_headers("/t/Never"))
        c.send_data(1, grpc_msg(b"r"), end_stream=True)
        c.reset_stream(1)
        c.send_headers(3, req_headers("/t/Later"))
        c.reset_stream(3)
    h2_stream("reset", [reset])

    def reset_later(c):
        c.send_headers(1, req_headers("/t/Later"))
        c.send_data(1, grpc_msg(b"r"), end_stream=True)
        c.reset_stream(1)
    h2_stream("reset-later", [reset_later])

    def ping_window_goaway(c):
        c.ping(b"12345678")
        c.increment_flow_control_window(1 << 20)
        c.send_headers(1, req_headers("/t/Echo"))
        c.increment_flow_control_window(1000, stream_id=1)
        c.send_data(1, grpc_msg(b"p"), end_stream=True)
        c.close_connection()
    h2_stream("ping-window-goaway", [ping_window_goaway])

    def settings(c):
        c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 10,
                           h2.settings.SettingCodes.MAX_FRAME_SIZE: 16384,
                           h2.settings.SettingCodes.HEADER_TABLE_SIZE: 0})
        c.send_headers(1, req_headers("/t/Echo"))
        c.send_data(1, grpc_msg(b"0123456789abcdef" * 4), end_stream=True)
    h2_stream("small-window", [settings])

    def big_headers(c):
        c.send_headers(1, req_headers("/t/Echo", [("x-big", "v" * 9000), ("x-big2", "w" * 9000)]))
        c.send_data(1, grpc_msg(b"h"), end_stream=True)
    h2_stream("big-headers", [big_headers])

    def priority(c):
        c.send_headers(1, req_headers("/t/Echo"), priority_weight=200, priority_depends_on=0,
                       priority_exclusive=True)
        c.prioritize(1, weight=10)
        c.send_data(1, grpc_msg(b"q"), end_stream=True)
    h2_stream("priority", [priority])

    def padded(c):
        c.send_headers(1, req_headers("/t/Echo"))
        c.send_data(1, grpc_msg(b"pad"), end_stream=True, pad_length=20)
    h2_stream("padded", [padded])
    # Not HTTP/2 after all: the bytes of an HTTP/1.1 request after the preface.
    write("h2", "garbage", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


# --- the rest: config files, URLs, CIDRs ------------------------------------------------------

def text_corpora():
    clean("config")
    write("config", "packaged", open(os.path.join(ROOT, "server", "systemd", "hookd.conf"), "rb").read())
    write("config", "every-key", b"""# every key once
socket = /tmp/hk/hookd.sock
data_dir = /tmp/hk/data
socket_mode = 0660
log_level = debug
max_message_bytes = 4194304
max_payload_bytes = 1048576
max_streams = 256
max_connections = 1024
store_map_bytes = 1073741824
admin_uids = 0, 1000
admin_gids = 0
trigger_uids = 1001,1002
trigger_gids = 27
allow_http = true
retry_schedule = 0,5,300,1800,7200,18000,36000,36000
retry_after_max = 3600
max_transfers = 256
idempotency_window = 86400
log_max_age = 2592000
log_max_count = 100000
ca_file = /etc/ssl/certs/ca-certificates.crt
allow_nets = 10.1.2.3, fd00::/8
deny_nets = 10.0.0.0/8,192.168.0.0/16, 2001:db8::/32
trigger_action = enterprise CateringOrderPlaced Catering Order #1
trigger_action = elite AccountUpdated Account Update
""")
    write("config", "bad-line", b"max_streams = 70000\n")
    write("config", "comments", b"  # only comments\n\n\t\nlog_level = warn # trailing\n")
    write("config", "no-equals", b"allow_http\n")

    clean("url")
    for i, u in enumerate([b"https://receiver.example/hook", b"https://receiver.example:8443/a/b?c=d&e",
                           b"https://[2001:db8::1]:443/x", b"https://10.0.0.1/", b"HTTPS://UPPER.EXAMPLE/",
                           b"https://a_b-c.example./", b"https://x.example/p%20q"]):
        write("url", "https-%d" % i, b"\x00" + u)
    for i, u in enumerate([b"http://127.0.0.1:8080/h", b"http://localhost/", b"http://[::1]:9/",
                           b"http://[::ffff:127.0.0.1]/", b"http://localhost./x"]):
        write("url", "http-loopback-%d" % i, b"\x00" + u)
    write("url", "http-allowed", b"\x01http://receiver.example/hook")
    write("url", "refused-userinfo", b"\x00https://user:pw@receiver.example/")
    write("url", "refused-fragment", b"\x00https://receiver.example/#f")
    write("url", "refused-port", b"\x00https://receiver.example:0/")

    clean("policy")
    v4 = lambda s: b"\x00" + bytes(int(x) for x in s.split("."))  # noqa: E731
    addrs = (v4("169.254.169.254") + v4("10.1.2.3") + v4("10.9.9.9") + v4("127.0.0.1") + v4("8.8.8.8")
             + v4("224.0.0.1") + v4("0.0.0.0"))
    v6 = lambda b: b"\x01" + b  # noqa: E731
    addrs6 = (v6(b"\xfe\x80" + b"\x00" * 13 + b"\x01") + v6(b"\x00" * 15 + b"\x01")
              + v6(b"\x00" * 10 + b"\xff\xff\xa9\xfe\xa9\xfe") + v6(b"\x00\x64\xff\x9b" + b"\x00" * 8 + b"\xa9\xfe\xa9\xfe")
              + v6(b"\x20\x02\xa9\xfe\xa9\xfe" + b"\x00" * 10) + v6(b"\x20\x01\x0d\xb8" + b"\x00" * 11 + b"\x01"))
    write("policy", "lists", b"-10.0.0.0/8\n+10.1.2.3\n-2001:db8::/32\n+169.254.169.254/32\n\x00" + addrs + addrs6)
    write("policy", "defaults", b"\x00" + addrs + addrs6)
    write("policy", "cidrs", b"10.1.2.3/8\n::/0\n0.0.0.0/0\nfe80::1/10\n::ffff:1.2.3.4/100\n1.2.3.4/33\n")


# --- HTTP/1.1: one connection's bytes ------------------------------------------------------------

def http1_corpus():
    clean("http1")
    body = b'{"id":"1"}'
    post = (b"POST /hookd.v1.Webhooks/GetWebhook HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nConnect-Protocol-Version: 1\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    write("http1", "post-json", post)
    write("http1", "pipelined", post + post.replace(b"GetWebhook", b"ListWebhooks"))
    write("http1", "chunked", b"POST /grpc.health.v1.Health/Check HTTP/1.1\r\nHost: x\r\n"
          b"Content-Type: application/proto\r\nTransfer-Encoding: chunked\r\n\r\n"
          b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
    write("http1", "http10-keepalive", b"POST /a HTTP/1.0\r\nConnection: keep-alive\r\n"
          b"Content-Length: 0\r\n\r\n")
    write("http1", "expect-continue", b"POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
          b"Content-Length: 4\r\n\r\nbody")
    write("http1", "close", b"POST /a HTTP/1.1\r\nConnection: close\r\nContent-Length: 1\r\n\r\nz")
    write("http1", "get", b"GET /index.html HTTP/1.1\r\nHost: x\r\nCookie: a=b\r\n\r\n")
    write("http1", "bad-version", b"POST /a HTTP/2.0\r\nContent-Length: 0\r\n\r\n")
    write("http1", "expect-other", b"POST /a HTTP/1.1\r\nExpect: tea\r\nContent-Length: 0\r\n\r\n")
    write("http1", "folded-and-dup", b"POST /a HTTP/1.1\r\nX-A: 1\r\nX-A: 2\r\nX-B: one\r\n two\r\n"
          b"Content-Length: 0\r\n\r\n")


def main():
    http1_corpus()
    rpc_corpus()
    pbjson_corpus()
    h2_corpus()
    text_corpora()


if __name__ == "__main__":
    main()
