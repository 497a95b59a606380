"""receiver.py -- real HTTP/1.1 (and HTTPS) webhook receivers on loopback for the e2e tests.

A Receiver records every request it gets (method, path, headers, body, arrival
time) and answers each path as it was told:

    rx = Receiver().start()                   # 127.0.0.1, a free port
    rx.url("/hook")                           # "http://127.0.0.1:<port>/hook"
    rx.max_in_flight                          # the most requests held at once
    rx.answer("/hook", status=500, body=b"no", delay=2.0, retry_after="2",
              location=None, headers={"x-a": "b"})
    rx.sequence("/hook", [500, 500, 200])     # or dicts as answer() takes; the
                                              # last one repeats
    reqs = rx.wait_for(3, path="/hook", timeout=10)
    rx.stop()

While it delays an answer, the receiver watches the connection: when the client
closes it, the request's `closed_at` (time.monotonic) is set and the answer is
not sent. Every time is time.monotonic(), so tests compare it with their own
monotonic clock; `wall` is time.time() for checks against header timestamps.

TLS: make_cert(dir) writes a self-signed certificate for IP:127.0.0.1 with
openssl; Receiver(tls=(cert, key)) serves HTTPS with it. hookd trusts it when
its config says `ca_file = <cert>`; a second certificate that is not in the CA
file makes the "bad TLS" receiver. Failed handshakes are counted in
`tls_failures`.
"""
import http.server
import os
import select
import socket
import socketserver
import ssl
import subprocess
import threading
import time


class Request:
    """One request as the receiver saw it."""

    def __init__(self, method, path, headers, body, arrival, wall, conn_id):
        self.method = method
        self.path = path            # with the query string, as sent
        self.header_list = headers  # [(name, value)] as sent
        self.headers = {k.lower(): v for k, v in headers}  # last one wins
        self.body = body
        self.arrival = arrival      # time.monotonic() when the whole body was read
        self.wall = wall            # time.time() at the same moment
        self.conn_id = conn_id      # a number per TCP connection (reuse shows up here)
        self.closed_at = None       # monotonic time the client closed during a delay
        self.answered = False       # the answer was written

    def __repr__(self):
        return "<Request %s %s %d bytes>" % (self.method, self.path, len(self.body))


def _spec(item):
    if isinstance(item, int):
        return {"status": item}
    return dict(item)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hk-e2e-receiver"
    sys_version = ""

    def setup(self):
        rx = self.server.receiver
        if rx.tls_context is not None:
            self.request.settimeout(10)
            try:
                self.request = rx.tls_context.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                with rx.lock:
                    rx.tls_failures.append(repr(e))
                raise
            self.request.settimeout(None)
        with rx.lock:
            rx.conn_count += 1
            self.conn_id = rx.conn_count
        super().setup()

    def log_message(self, fmt, *args):  # quiet
        pass

    def _read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(n) if n else b""

    def _handle(self):
        rx = self.server.receiver
        body = self._read_body()
        req = Request(self.command, self.path, list(self.headers.items()), body,
                      time.monotonic(), time.time(), self.conn_id)
        spec = rx._take(self.path.split("?", 1)[0], req)
        done = [False]

        def leave():  # no longer in flight: before the answer goes, so the
            if not done[0]:  # client's next request never overlaps this one
                done[0] = True
                with rx.cond:
                    rx.in_flight -= 1
                    rx.cond.notify_all()

        try:
            self._answer(rx, req, spec, leave)
        finally:
            leave()

    def _answer(self, rx, req, spec, leave):
        delay = spec.get("delay", 0) or 0
        if delay and not self._wait_open(req, delay):
            self.close_connection = True
            return
        leave()
        if spec.get("drop") or spec.get("raw") is not None:
            # Not HTTP: close at once, or write these bytes and close.
            try:
                if spec.get("raw"):
                    self.wfile.write(spec["raw"])
                    self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.close_connection = True
            return
        status = spec.get("status", 200)
        payload = spec.get("body", b"")
        if isinstance(payload, str):
            payload = payload.encode()
        try:
            self.send_response(status)
            if spec.get("retry_after") is not None:
                self.send_header("Retry-After", str(spec["retry_after"]))
            if spec.get("location") is not None:
                self.send_header("Location", spec["location"])
            for k, v in (spec.get("headers") or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", spec.get("content_type", "text/plain"))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
            req.answered = True
        except OSError:
            req.closed_at = req.closed_at or time.monotonic()
            self.close_connection = True

    def _wait_open(self, req, delay):
        """Waits delay seconds unless the client closes the connection first
        (recorded in req.closed_at) or the receiver stops. True: still open."""
        rx = self.server.receiver
        end = time.monotonic() + delay
        sock = self.connection
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            if rx.stopping.is_set():
                return False
            try:
                r, _, _ = select.select([sock], [], [], min(left, 0.02))
            except (OSError, ValueError):
                r = [sock]
            if r:
                try:
                    if isinstance(sock, ssl.SSLSocket):
                        sock.setblocking(False)
                        try:
                            data = sock.recv(1)
                        except ssl.SSLWantReadError:
                            data = None
                        finally:
                            sock.setblocking(True)
                    else:
                        data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    data = None
                except OSError:
                    data = b""
                if data == b"":
                    req.closed_at = time.monotonic()
                    with rx.cond:
                        rx.cond.notify_all()
                    return False
                if data:
                    # The client sent more (a pipelined request): not a close.
                    time.sleep(min(left, 0.02))

    do_POST = _handle
    do_GET = _handle
    do_PUT = _handle


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):  # recorded, not printed
        pass


class Receiver:
    def __init__(self, host="127.0.0.1", port=0, tls=None):
        """tls: (certfile, keyfile) to serve HTTPS."""
        self.host = host
        self.port = port
        self.tls_context = None
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.tls_context = ctx
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self.requests = []
        self.tls_failures = []
        self.conn_count = 0
        self.in_flight = 0       # requests read and not yet answered (or given up)
        self.max_in_flight = 0   # the most at once
        self.default = {"status": 200, "body": b"ok"}
        self.plans = {}  # path -> [spec, ...]; the last one repeats
        self.server = None
        self.thread = None

    @property
    def scheme(self):
        return "https" if self.tls_context is not None else "http"

    def url(self, path="/hook"):
        return "%s://%s:%d%s" % (self.scheme, self.host, self.port, path)

    def start(self):
        self.server = _Server((self.host, self.port), _Handler)
        self.server.receiver = self
        self.port = self.server.server_address[1]
        self.stopping.clear()
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Stops listening (the port is then closed: connections are refused)
        and aborts delayed answers. Idempotent."""
        if self.server is None:
            return
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        self.server = None

    # --- what to answer ----------------------------------------------------

    def answer(self, path, status=200, body=b"", delay=0, retry_after=None, location=None,
               headers=None, content_type="text/plain", drop=False, raw=None):
        """Every request to path gets this answer (from now on). drop: close the
        connection without answering; raw: write these bytes instead of an
        HTTP answer, then close."""
        self.sequence(path, [dict(status=status, body=body, delay=delay, retry_after=retry_after,
                                  location=location, headers=headers,
                                  content_type=content_type, drop=drop, raw=raw)])

    def sequence(self, path, items):
        """Requests to path get these answers in turn; the last one repeats.
        An item is a status (int) or a dict of answer()'s arguments; a
        string "500,500,200" is a sequence of statuses."""
        if isinstance(items, str):
            items = [int(s) for s in items.split(",")]
        with self.lock:
            self.plans[path] = [_spec(i) for i in items]

    def _take(self, path, req):
        with self.cond:
            self.requests.append(req)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            plan = self.plans.get(path)
            if not plan:
                spec = dict(self.default)
            elif len(plan) > 1:
                spec = plan.pop(0)
            else:
                spec = dict(plan[0])
            self.cond.notify_all()
            return spec

    # --- what came -----------------------------------------------------------

    def got(self, path=None):
        """The requests so far (to path, when given: without the query)."""
        with self.lock:
            return [r for r in self.requests
                    if path is None or r.path.split("?", 1)[0] == path]

    def wait_for(self, n, path=None, timeout=10.0):
        """Waits until at least n requests (to path) came; returns them.
        Raises AssertionError on timeout, saying how many came."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [r for r in self.requests
                       if path is None or r.path.split("?", 1)[0] == path]
                if len(got) >= n:
                    return got
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("receiver: %d of %d requests%s within %.1fs"
                                         % (len(got), n, " to " + path if path else "", timeout))
                self.cond.wait(min(left, 0.05))

    def wait_closed(self, req, timeout=10.0):
        """Waits until the client closed req's connection during a delayed
        answer; returns req.closed_at (monotonic) or None on timeout."""
        end = time.monotonic() + timeout
        with self.cond:
            while req.closed_at is None:
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.02))
            return req.closed_at

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def make_cert(directory, name="receiver", ip="127.0.0.1"):
    """Writes a fresh self-signed certificate (its own CA) for IP:ip and its
    key into directory; returns (certfile, keyfile)."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + ip,
         "-addext", "subjectAltName=IP:" + ip,
         "-addext", "basicConstraints=critical,CA:TRUE"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return cert, key


class ClosedPort:
    """A loopback port nothing listens on, held so no one else takes it: a TCP
    socket bound but not listening, so connecting to it is refused at once.
    release() frees it (a Receiver can then start on it)."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]

    def url(self, path="/hook"):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def release(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
