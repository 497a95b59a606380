"""test_web.py -- the admin page's browser listener: login links, sessions, origins, static files."""
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import tempfile
import time
import unittest

import grpc

import harness
from harness import pb

SVC = "/hookd.v1.Webhooks/"
NOBODY = 65534
WEB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "client", "web")
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8"}


def create_req(name="Account sync", **kw):
    fields = dict(name=name, application=pb.APPLICATION_ENTERPRISE,
                  trigger_action="AccountUpdated", url="https://hooks.example.com/momentus")
    fields.update(kw)
    return pb.CreateWebhookRequest(**fields)


class Browser:
    """What a browser does on the listener: one cookie jar, its own Origin on POSTs."""

    def __init__(self, origin):
        self.origin = origin
        m = re.match(r"http://([^:/]+|\[[^\]]+\]):(\d+)$", origin)
        self.host, self.port = m.group(1).strip("[]"), int(m.group(2))
        self.cookie = None

    def request(self, method, path, body=None, headers=None, cookie=True, origin=None):
        """(status, headers, body bytes); origin None: the page's own on POSTs."""
        h = {}
        if origin is None and method == "POST":
            origin = self.origin
        if origin:
            h["Origin"] = origin
        if cookie and self.cookie:
            h["Cookie"] = "hookd_session=" + self.cookie
        h.update(headers or {})
        c = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return r.status, r.headers, r.read()
        finally:
            c.close()

    def call(self, method, msg=None, headers=None, **kw):
        """A Connect JSON call as api.js makes it: (status, parsed body)."""
        h = {"Content-Type": "application/json", "Connect-Protocol-Version": "1"}
        h.update(headers or {})
        status, _, body = self.request("POST", SVC + method, body=json.dumps(msg or {}),
                                       headers=h, **kw)
        return status, json.loads(body) if body else None

    def login(self, url):
        """Opens a login link; keeps the cookie. Returns (status, headers)."""
        m = re.match(re.escape(self.origin) + r"(/login\?token=[A-Za-z0-9_-]+)$", url)
        assert m, url
        status, headers, _ = self.request("GET", m.group(1))
        if status == 303:
            self.cookie = re.match(r"hookd_session=([^;]*)", headers["Set-Cookie"]).group(1)
        return status, headers


class WebCase(harness.HookdTestCase):
    args = ("--set", "http_listen=127.0.0.1:0")

    def setUp(self):
        super().setUp()
        self.origin = self.listener_origin()
        self.browser = Browser(self.origin)

    def listener_origin(self):
        end = time.time() + 10
        while time.time() < end:
            m = re.search(r"event=http_listening origin=(\S+)", self.hookd.read_log())
            if m:
                return m.group(1)
            time.sleep(0.02)
        self.fail("no http_listening line:\n" + self.hookd.read_log())

    def link(self):
        return self.stub.CreateLoginLink(pb.CreateLoginLinkRequest(), timeout=10)

    def logged_in(self):
        b = Browser(self.origin)
        status, _ = b.login(self.link().url)
        self.assertEqual(status, 303)
        return b

    def assertSecurityHeaders(self, headers):
        csp = headers["Content-Security-Policy"]
        self.assertIn("default-src 'self'", csp)
        self.assertIn("script-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertNotIn("unsafe-eval", csp)
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
        self.assertEqual(headers["Referrer-Policy"], "no-referrer")
        self.assertEqual(headers["X-Frame-Options"], "DENY")
        self.assertFalse([k for k in headers if k.lower().startswith("access-control-")], headers)


class Sessions(WebCase):
    def test_root_redirects_to_ui(self):
        status, headers, _ = self.browser.request("GET", "/")
        self.assertEqual(status, 302)
        self.assertEqual(headers["Location"], "/ui/")

    def test_no_cookie_page_is_401_login_page(self):
        for path in ("/ui/", "/ui/index.html", "/ui/app.js", "/metrics"):
            status, headers, body = self.browser.request("GET", path)
            self.assertEqual(status, 401, path)
            self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
            self.assertIn(b"hookctl ui", body)
            self.assertSecurityHeaders(headers)

    def test_no_cookie_api_is_401_unauthenticated(self):
        status, err = self.browser.call("ListWebhooks")
        self.assertEqual(status, 401)
        self.assertEqual(err["code"], "unauthenticated")
        self.assertIn("hookctl ui", err["message"])

    def test_wrong_cookie_is_401(self):
        for value in (secrets.token_urlsafe(32), "x", "A" * 43, "", "a" * 500):
            self.browser.cookie = value
            status, err = self.browser.call("ListWebhooks")
            self.assertEqual(status, 401, value)
            self.assertEqual(err["code"], "unauthenticated")
            status, _, _ = self.browser.request("GET", "/ui/")
            self.assertEqual(status, 401, value)

    def test_login_link_gives_a_session(self):
        link = self.link()
        self.assertRegex(link.url, "^" + re.escape(self.origin) + r"/login\?token=[A-Za-z0-9_-]{43}$")
        now_ms = time.time() * 1000
        self.assertGreater(link.expire_time, now_ms + 60_000)
        self.assertLess(link.expire_time, now_ms + 3_600_000)
        status, headers = self.browser.login(link.url)
        self.assertEqual(status, 303)
        self.assertEqual(headers["Location"], "/ui/")
        cookie = headers["Set-Cookie"]
        attrs = [a.strip() for a in cookie.split(";")]
        self.assertRegex(attrs[0], r"^hookd_session=[A-Za-z0-9_-]{43}$")
        self.assertIn("HttpOnly", attrs)
        self.assertIn("SameSite=Strict", attrs)
        self.assertIn("Path=/", attrs)
        self.assertNotIn(link.url.split("=")[-1], cookie)  # the session is not the token
        self.assertSecurityHeaders(headers)
        status, headers, body = self.browser.request("GET", "/ui/")
        self.assertEqual(status, 200)
        self.assertIn(b'<script type="module" src="/ui/app.js">', body)
        status, resp = self.browser.call("ListTriggerActions")
        self.assertEqual(status, 200, resp)
        self.assertTrue(resp["triggerActions"])

    def test_replayed_login_token_refused(self):
        url = self.link().url
        status, _ = self.browser.login(url)
        self.assertEqual(status, 303)
        second = Browser(self.origin)
        status, _ = second.login(url)
        self.assertEqual(status, 401)
        self.assertIsNone(second.cookie)
        # The first session still works.
        self.assertEqual(self.browser.call("ListWebhooks")[0], 200)

    def test_forged_login_token_refused(self):
        for token in (secrets.token_urlsafe(32), "short", "", "%00" * 10):
            status, headers, body = self.browser.request("GET", "/login?token=" + token)
            self.assertEqual(status, 401, token)
            self.assertNotIn("Set-Cookie", headers)
            self.assertIn(b"hookctl ui", body)

    def test_login_page_without_token(self):
        status, headers, body = self.browser.request("GET", "/login")
        self.assertEqual(status, 200)
        self.assertIn(b"hookctl ui", body)
        self.assertNotIn("Set-Cookie", headers)

    def test_cross_origin_refused(self):
        b = self.logged_in()
        for origin in ("http://evil.example", "http://127.0.0.1:1", "null",
                       self.origin.replace("http:", "https:"), self.origin + "/"):
            status, err = b.call("CreateWebhook", {"name": "csrf", "application": "APPLICATION_ENTERPRISE",
                                                   "triggerAction": "AccountUpdated",
                                                   "url": "https://evil.example/"}, origin=origin)
            self.assertEqual(status, 403, origin)
            self.assertEqual(err["code"], "permission_denied")
            status, _, _ = b.request("GET", "/ui/app.js", origin=origin)
            self.assertEqual(status, 403, origin)
        self.assertEqual(len(self.stub.ListWebhooks(pb.ListWebhooksRequest()).webhooks), 0)

    def test_post_without_origin_refused(self):
        b = self.logged_in()
        status, err = b.call("ListWebhooks", origin="")
        self.assertEqual(status, 403)
        self.assertEqual(err["code"], "permission_denied")
        self.assertIn("Origin", err["message"])

    def test_foreign_host_refused(self):
        # DNS rebinding: another name that resolves to 127.0.0.1.
        b = self.logged_in()
        status, _, _ = b.request("GET", "/ui/", headers={"Host": "rebound.example:%d" % b.port})
        self.assertEqual(status, 403)
        status, _, _ = b.request("POST", SVC + "ListWebhooks", body="{}",
                                 headers={"Host": "rebound.example:%d" % b.port,
                                          "Content-Type": "application/json"})
        self.assertEqual(status, 403)

    def test_localhost_origin_accepted(self):
        b = self.logged_in()
        local = "http://localhost:%d" % b.port
        status, _ = b.call("ListWebhooks", origin=local,
                           headers={"Host": "localhost:%d" % b.port})
        self.assertEqual(status, 200)

    def test_no_cors_ever(self):
        b = self.logged_in()
        status, headers, _ = b.request("OPTIONS", SVC + "ListWebhooks",
                                       headers={"Access-Control-Request-Method": "POST"},
                                       origin=self.origin)
        self.assertEqual(status, 405)
        self.assertSecurityHeaders(headers)
        _, headers, _ = b.request("POST", SVC + "ListWebhooks", body="{}",
                                  headers={"Content-Type": "application/json"})
        self.assertFalse([k for k in headers if k.lower().startswith("access-control-")])

    def test_pipelined_pages_and_calls_in_order(self):
        b = self.logged_in()
        body = b"{}"
        one = ("GET /ui/style.css HTTP/1.1\r\nHost: %s\r\n\r\n" % b.origin[7:]).encode()
        two = ("POST %sListWebhooks HTTP/1.1\r\nHost: %s\r\nOrigin: %s\r\n"
               "Cookie: hookd_session=%s\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\n\r\n" % (SVC, b.origin[7:], b.origin, b.cookie,
                                                  len(body))).encode() + body
        three = ("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % b.origin[7:]).encode()
        with socket.create_connection((b.host, b.port), timeout=10) as s:
            s.sendall(one + two + three)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        # A JSON body has no final newline: the next answer follows it directly.
        statuses = re.findall(rb"HTTP/1\.1 (\d+) ", data)
        self.assertEqual(statuses, [b"200", b"200", b"302"], data[:300])

    def test_http2_refused_on_the_listener(self):
        out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null",
                              "-w", "%{http_version} %{http_code}", self.origin + "/ui/"],
                             capture_output=True, timeout=30)
        self.assertNotEqual(out.stdout.split(b" ")[0], b"2", out)

    def test_calls_act_as_the_admin_who_asked(self):
        b = self.logged_in()
        status, err = b.call("GetWebhook", {"id": "999"})
        self.assertEqual(status, 404)
        self.assertEqual(err["code"], "not_found")
        log = self.hookd.read_log()
        self.assertRegex(log, r"event=login uid=%d\b" % os.getuid())
        self.assertRegex(log, r'event=rpc_failed status=NOT_FOUND path="/hookd.v1.Webhooks/GetWebhook" '
                              r"uid=%d\b" % os.getuid())
        self.assertNotIn(b.cookie, log)

    def test_hookctl_ui_prints_one_working_url(self):
        out = subprocess.run([harness.HOOKCTL_BIN, "--socket", self.hookd.socket, "ui"],
                             capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.decode().split("\n")
        self.assertEqual(len(lines), 2, out.stdout)
        self.assertEqual(lines[1], "")
        self.assertRegex(lines[0], "^" + re.escape(self.origin) + r"/login\?token=[A-Za-z0-9_-]{43}$")
        status, _ = self.browser.login(lines[0])
        self.assertEqual(status, 303)
        self.assertEqual(self.browser.request("GET", "/ui/")[0], 200)
        # The same link with curl: a cookie jar, following the redirect.
        with tempfile.TemporaryDirectory() as d:
            out = subprocess.run([harness.HOOKCTL_BIN, "--socket", self.hookd.socket, "ui"],
                                 capture_output=True, timeout=30)
            jar = os.path.join(d, "jar")
            r = subprocess.run(["curl", "-sS", "-L", "-c", jar, "-b", jar, "-o", "/dev/null",
                                "-w", "%{http_code} %{url_effective}", out.stdout.decode().strip()],
                               capture_output=True, timeout=30)
            self.assertEqual(r.stdout.decode(), "200 %s/ui/" % self.origin, r.stderr)


class StaticFiles(WebCase):
    def test_every_file_served_with_type_and_headers(self):
        b = self.logged_in()
        names = sorted(n for n in os.listdir(WEB_DIR) if os.path.splitext(n)[1] in TYPES)
        self.assertIn("app.js", names)
        for name in names:
            status, headers, body = b.request("GET", "/ui/" + name)
            self.assertEqual(status, 200, name)
            self.assertEqual(headers["Content-Type"], TYPES[os.path.splitext(name)[1]], name)
            self.assertEqual(headers["Cache-Control"], "no-cache", name)
            self.assertSecurityHeaders(headers)
            with open(os.path.join(WEB_DIR, name), "rb") as f:
                self.assertEqual(body, f.read(), name + ": the binary serves the current file")

    def test_index_for_the_directory(self):
        b = self.logged_in()
        with open(os.path.join(WEB_DIR, "index.html"), "rb") as f:
            index = f.read()
        for path in ("/ui/", "/ui", "/ui/?application=elite"):
            status, _, body = b.request("GET", path)
            self.assertEqual(status, 200, path)
            self.assertEqual(body, index, path)

    def test_stylesheet_open_to_the_login_page(self):
        status, headers, _ = self.browser.request("GET", "/ui/style.css")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/css; charset=utf-8")

    def test_unknown_paths_404(self):
        b = self.logged_in()
        for path in ("/ui/nope.js", "/ui/../CMakeLists.txt", "/etc/passwd", "/ui/app.js/"):
            self.assertEqual(b.request("GET", path)[0], 404, path)

    def test_no_inline_script_in_pages(self):
        # The CSP forbids inline script: the pages must not need any.
        for name in ("index.html", "login.html"):
            with open(os.path.join(WEB_DIR, name)) as f:
                html = f.read()
            for tag in re.findall(r"<script\b[^>]*>", html):
                self.assertIn("src=", tag, name)
            self.assertNotRegex(html, r"\son[a-z]+\s*=", name)


class PageRoutes(WebCase):
    """Every call the page makes, the way api.js makes it."""

    def test_every_route_of_the_page(self):
        b = self.logged_in()
        status, acts = b.call("ListTriggerActions")  # app.js
        self.assertEqual(status, 200)
        self.assertIn("AccountUpdated", [a["key"] for a in acts["triggerActions"]])
        status, w = b.call("CreateWebhook", {  # form.js: create
            "name": "Page hook", "application": "APPLICATION_ELITE", "triggerAction": "AccountUpdated",
            "url": "http://127.0.0.1:1/hook", "timeoutSeconds": 15, "asynchronous": True,
            "active": True, "authMethod": "AUTH_METHOD_OAUTH"})
        self.assertEqual(status, 200, w)
        self.assertTrue(w["secretKey"].startswith("whsec_"))
        status, err = b.call("CreateWebhook", {"name": "Bad", "application": "APPLICATION_ELITE",
                                               "triggerAction": "AccountUpdated", "url": "ftp://x"})
        self.assertEqual(status, 400)
        self.assertEqual(err["code"], "invalid_argument")
        self.assertRegex(err["message"], r"^url:")  # the page shows it next to the field
        status, lst = b.call("ListWebhooks", {"application": "APPLICATION_ELITE", "pageSize": 10})
        self.assertEqual(status, 200)  # list.js
        self.assertEqual([x["name"] for x in lst["webhooks"]], ["Page hook"])
        status, got = b.call("GetWebhook", {"id": w["id"], "revealSecret": True})  # details, edit
        self.assertEqual((status, got["secretKey"]), (200, w["secretKey"]))
        status, up = b.call("UpdateWebhook", {"id": w["id"], "newName": "Page hook 2",
                                              "description": "from the page"})  # form.js: edit
        self.assertEqual(status, 200, up)
        self.assertEqual(up["description"], "from the page")
        self.assertEqual(self.stub.GetWebhook(pb.GetWebhookRequest(id=int(w["id"]))).name, "Page hook 2")
        # A delivery for the details page: the receiver is not there.
        self.stub.TriggerEvent(pb.TriggerEventRequest(
            application=pb.APPLICATION_ELITE, trigger_action="AccountUpdated",
            payload=b'{"a":1}', origin=pb.ORIGIN_USER), timeout=30)
        end = time.time() + 20
        while True:
            status, dl = b.call("ListDeliveries", {"webhookId": w["id"], "pageSize": 5})
            self.assertEqual(status, 200)
            if dl.get("deliveries") and dl["deliveries"][0].get("attemptCount"):
                break
            self.assertLess(time.time(), end, dl)
            time.sleep(0.1)
        d = dl["deliveries"][0]
        status, full = b.call("GetDelivery", {"id": d["id"]})
        self.assertEqual(status, 200)
        self.assertEqual(full["attempts"][0]["outcome"], "OUTCOME_NETWORK_ERROR")
        status, again = b.call("RedeliverDelivery", {"id": d["id"]})
        self.assertEqual(status, 200, again)
        self.assertNotEqual(again["id"], d["id"])
        status, up = b.call("UpdateWebhook", {"id": w["id"], "active": False})  # deactivate
        self.assertEqual(status, 200, up)
        self.assertNotIn("active", up)  # proto3 JSON leaves false out
        status, gone = b.call("DeleteWebhook", {"id": w["id"]})  # list.js: the row menu
        self.assertEqual(status, 200)
        self.assertEqual(gone["name"], "Page hook 2")
        self.assertEqual(len(self.stub.ListWebhooks(pb.ListWebhooksRequest()).webhooks), 0)


class Expiry(WebCase):
    args = ("--set", "http_listen=127.0.0.1:0", "--set", "http_session_idle=1",
            "--set", "http_session_ttl=3", "--set", "http_login_ttl=1")

    def test_idle_session_expires(self):
        b = self.logged_in()
        self.assertEqual(b.call("ListWebhooks")[0], 200)
        time.sleep(1.3)
        status, err = b.call("ListWebhooks")
        self.assertEqual(status, 401)
        self.assertEqual(err["code"], "unauthenticated")
        self.assertEqual(b.request("GET", "/ui/")[0], 401)

    def test_session_ends_after_its_ttl_even_in_use(self):
        b = self.logged_in()
        start = time.monotonic()
        while time.monotonic() - start < 2.5:
            self.assertEqual(b.call("ListWebhooks")[0], 200)
            time.sleep(0.3)
        time.sleep(0.8)
        self.assertEqual(b.call("ListWebhooks")[0], 401)

    def test_login_link_expires(self):
        url = self.link().url
        time.sleep(1.3)
        status, _ = self.browser.login(url)
        self.assertEqual(status, 401)


class Off(harness.HookdTestCase):
    def test_create_login_link_needs_http_listen(self):
        e = self.assertStatus(grpc.StatusCode.FAILED_PRECONDITION, self.stub.CreateLoginLink,
                              pb.CreateLoginLinkRequest(), timeout=10)
        self.assertIn("http_listen", e.details())
        out = subprocess.run([harness.HOOKCTL_BIN, "--socket", self.hookd.socket, "ui"],
                             capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 1)
        self.assertEqual(out.stdout, b"")
        self.assertIn(b"FAILED_PRECONDITION", out.stderr)

    def test_metrics_on_socket_still_served(self):
        out = subprocess.run(["curl", "-sS", "--unix-socket", self.hookd.socket, "-w", "\n%{http_code}",
                              "http://localhost/metrics"], capture_output=True, timeout=30)
        self.assertTrue(out.stdout.endswith(b"\n200"), out.stdout[-200:])


class Start(unittest.TestCase):
    def run_hookd(self, *sets):
        h = harness.Hookd("", [a for s in sets for a in ("--set", s)])
        self.addCleanup(h.cleanup)
        h.start(wait=False)
        return h

    def test_non_loopback_refused(self):
        for addr in ("0.0.0.0:0", "192.0.2.1:8480", "[::]:0"):
            h = self.run_hookd("http_listen=" + addr)
            rc = h.proc.wait(15)
            self.assertNotEqual(rc, 0, addr)
            self.assertIn("not a loopback address", h.read_log(), addr)
            self.assertFalse(os.path.exists(h.socket), addr)

    def test_bad_address_refused(self):
        for addr in ("8480", "127.0.0.1", "127.0.0.1:99999", "nohost.example:80", "127.0.0.1:-1"):
            h = self.run_hookd("http_listen=" + addr)
            self.assertNotEqual(h.proc.wait(15), 0, addr)
            self.assertIn("http_listen", h.read_log(), addr)

    def test_remote_allowed_explicitly(self):
        h = self.run_hookd("http_listen=0.0.0.0:0", "http_listen_allow_remote=true")
        h.wait_ready()
        # The socket answers a moment before the browser listener's line is logged.
        end = time.monotonic() + 10
        while "event=http_listening" not in h.read_log() and time.monotonic() < end:
            time.sleep(0.05)
        self.assertIn("event=http_listening", h.read_log())
        self.assertEqual(h.stop(), 0, h.read_log())


@unittest.skipUnless(os.geteuid() == 0, "needs root to run a caller as nobody")
class Roles(WebCase):
    def setUp(self):
        base = tempfile.mkdtemp(prefix="hk-e2e-web-", dir="/tmp")
        os.chmod(base, 0o755)
        self.hookd = harness.Hookd("", self.args + ("--set", "socket_mode=0666"), base=base)
        self.addCleanup(self.hookd.cleanup)
        self.hookd.start()
        self.stub = self.hookd.stub()
        self.origin = self.listener_origin()

    def test_login_link_for_non_admin_refused(self):
        out = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                              harness.HOOKCTL_BIN, "--socket", self.hookd.socket, "ui"],
                             capture_output=True, timeout=30, cwd="/")
        self.assertEqual(out.returncode, 1, out)
        self.assertEqual(out.stdout, b"")
        self.assertIn(b"PERMISSION_DENIED", out.stderr)
        self.assertNotIn("login_link_created", self.hookd.read_log())


if __name__ == "__main__":
    unittest.main()
