"""test_metrics.py -- GET /metrics: strict Prometheus text format, and values that move with traffic."""
import http.client
import math
import re
import socket
import time
import unittest

import harness
from harness import pb
from receiver import Receiver
from test_web import Browser, WebCase

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count", "")}


class FormatError(AssertionError):
    pass


def parse_value(text, where):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise FormatError("%s: bad value %r" % (where, text))
    return float(text)


def parse_labels(text, where):
    """'a="x",b="y"' -> dict, with the format's escapes (\\\\, \\", \\n) and nothing else."""
    labels, i = {}, 0
    while i < len(text):
        m = re.compile(r"(%s)=\"" % LABEL).match(text, i)
        if not m:
            raise FormatError("%s: bad label at %r" % (where, text[i:]))
        name, i, value = m.group(1), m.end(), []
        while True:
            if i >= len(text):
                raise FormatError("%s: unterminated label value" % where)
            c = text[i]
            if c == "\\":
                nxt = text[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise FormatError("%s: bad escape \\%s" % (where, nxt))
                value.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise FormatError("%s: newline in label value" % where)
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise FormatError("%s: label %s twice" % (where, name))
        labels[name] = "".join(value)
        if i < len(text):
            if text[i] != ",":
                raise FormatError("%s: expected ',' at %r" % (where, text[i:]))
            i += 1
    return labels


def parse(text):
    """Checks text against the exposition format (0.0.4) and hookd's own rules; returns
    {family: {"type": t, "help": h, "samples": [(name, labels, value)]}}."""
    if not text.endswith("\n"):
        raise FormatError("does not end with a newline")
    families, order, current = {}, [], None

    def family_of(sample):
        for fam in families:
            t = families[fam]["type"]
            for suf in SUFFIXES.get(t, ("",)):
                if sample == fam + suf:
                    return fam
        return sample

    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d" % n
        if line == "":
            raise FormatError("%s: empty line" % where)
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (%s) (.*)" % NAME, line)
            if not m:
                if re.match(r"# (HELP|TYPE)\b", line):
                    raise FormatError("%s: bad %r" % (where, line))
                continue  # a plain comment
            kind, name, rest = m.groups()
            fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
            if fam["samples"]:
                raise FormatError("%s: %s for %s after its samples" % (where, kind, name))
            if kind == "TYPE":
                if fam["type"] is not None:
                    raise FormatError("%s: second TYPE for %s" % (where, name))
                if rest not in TYPES:
                    raise FormatError("%s: unknown type %r" % (where, rest))
                fam["type"] = rest
            else:
                if fam["help"] is not None:
                    raise FormatError("%s: second HELP for %s" % (where, name))
                if re.search(r"\\[^\\n]", rest):
                    raise FormatError("%s: bad escape in HELP" % where)
                fam["help"] = rest
            if name not in order:
                order.append(name)
            current = name
            continue
        m = re.fullmatch(r"(%s)(?:\{(.*)\})? (\S+)(?: (-?\d+))?" % NAME, line)
        if not m:
            raise FormatError("%s: not a sample: %r" % (where, line))
        sname, ltext, vtext, _ts = m.groups()
        fam = family_of(sname)
        if fam not in families:
            families[fam] = {"type": None, "help": None, "samples": []}
            order.append(fam)
        elif fam != current and families[fam]["samples"]:
            raise FormatError("%s: samples of %s not together" % (where, fam))
        current = fam
        labels = parse_labels(ltext or "", where)
        families[fam]["samples"].append((sname, labels, parse_value(vtext, where)))

    for fam, f in families.items():
        series = set()
        for sname, labels, value in f["samples"]:
            key = (sname, tuple(sorted(labels.items())))
            if key in series:
                raise FormatError("%s: series %r twice" % (fam, key))
            series.add(key)
        # hookd's rules: every family typed and described, counters named *_total.
        if f["type"] is None or not f["help"]:
            raise FormatError("%s: no TYPE or HELP" % fam)
        if f["type"] == "counter":
            if not fam.endswith("_total"):
                raise FormatError("counter %s does not end in _total" % fam)
            for _, _, v in f["samples"]:
                if v < 0 or math.isnan(v):
                    raise FormatError("counter %s has %s" % (fam, v))
        if f["type"] == "histogram":
            check_histogram(fam, f["samples"])
    return families


def check_histogram(fam, samples):
    buckets = [(s, l, v) for s, l, v in samples if s == fam + "_bucket"]
    if not buckets or any("le" not in l for _, l, _ in buckets):
        raise FormatError("%s: buckets without le" % fam)
    les = [parse_value(l["le"], fam) for _, l, _ in buckets]
    if les != sorted(les) or len(set(les)) != len(les) or les[-1] != math.inf:
        raise FormatError("%s: le not increasing up to +Inf: %r" % (fam, les))
    counts = [v for _, _, v in buckets]
    if counts != sorted(counts):
        raise FormatError("%s: buckets not cumulative: %r" % (fam, counts))
    total = [v for s, _, v in samples if s == fam + "_count"]
    sums = [v for s, _, v in samples if s == fam + "_sum"]
    if total != [counts[-1]] or len(sums) != 1:
        raise FormatError("%s: _count %r and +Inf bucket %r, _sum %r" % (fam, total, counts[-1], sums))


def value(families, fam, sample=None, **labels):
    for s, l, v in families[fam]["samples"]:
        if s == (sample or fam) and all(l.get(k) == w for k, w in labels.items()):
            return v
    raise KeyError((fam, sample, labels))


class Parser(unittest.TestCase):
    """The checker refuses what the format forbids (so its passing means something)."""

    GOOD = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n"

    def test_good(self):
        self.assertEqual(value(parse(self.GOOD), "a_total", x="1"), 2)

    def test_refused(self):
        bad = [
            self.GOOD[:-1],                                          # no final newline
            self.GOOD + "\n",                                        # empty line
            self.GOOD + "a_total{x=\"1\"} 3\n",                      # duplicate series
            self.GOOD + "# TYPE a_total counter\n",                  # TYPE after samples
            "# TYPE b counter\n# HELP b B.\nb 1\n",                   # counter not _total
            "# HELP c C.\n# TYPE c gauge\nc{x=\"a\\q\"} 1\n",         # bad escape
            "# HELP c C.\n# TYPE c gauge\nc{1x=\"a\"} 1\n",           # bad label name
            "# HELP c C.\n# TYPE c gauge\nc one\n",                   # bad value
            "# HELP c C.\n# TYPE c gaug\nc 1\n",                      # bad type
            "c 1\n",                                                  # no TYPE/HELP
            "# HELP c C.\n# TYPE c gauge\nc 1\n# HELP d D.\n# TYPE d gauge\nd 1\nc{a=\"b\"} 2\n",
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
            "h_sum 1\nh_count 1\n",                                   # not cumulative
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  # no +Inf
            "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
        ]
        for text in bad:
            with self.assertRaises(FormatError, msg=text):
                parse(text)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Metrics(WebCase):
    args = ("--set", "http_listen=127.0.0.1:0", "--set", "retry_schedule=0,3600")

    def scrape(self):
        c = UnixHTTPConnection(self.hookd.socket)
        try:
            c.request("GET", "/metrics")
            r = c.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, body)
            self.assertEqual(r.headers["Content-Type"], CONTENT_TYPE)
        finally:
            c.close()
        return parse(body.decode("utf-8"))

    def test_families_present(self):
        # Connections the set-up opened may still be closing on hookd's side (seen under
        # ASan): scrape until only the scrape's own is left, or 5 s.
        end = time.monotonic() + 5
        m = self.scrape()
        while value(m, "hookd_connections", listener="socket") != 1 and time.monotonic() < end:
            time.sleep(0.05)
            m = self.scrape()
        for fam, t in [("hookd_build_info", "gauge"), ("hookd_connections", "gauge"),
                       ("hookd_calls_total", "counter"), ("hookd_rpcs_total", "counter"),
                       ("hookd_attempts_total", "counter"),
                       ("hookd_attempt_duration_seconds", "histogram"),
                       ("hookd_async_deliveries_total", "counter"),
                       ("hookd_deliveries_pending", "gauge"), ("hookd_deliveries_due", "gauge"),
                       ("hookd_commit_batches_total", "counter"),
                       ("hookd_commit_syncs_total", "counter"),
                       ("hookd_commit_waiters_total", "counter"),
                       ("hookd_commit_batch_size", "histogram"),
                       ("hookd_store_writes_kept", "gauge"),
                       ("hookd_commit_duration_seconds", "histogram")]:
            self.assertEqual(m[fam]["type"], t, fam)
        self.assertEqual(value(m, "hookd_build_info", version="0.1.0"), 1)
        # The scrape's own connection, on the socket.
        self.assertEqual(value(m, "hookd_connections", listener="socket"), 1)
        self.assertEqual(value(m, "hookd_connections", listener="http"), 0)
        for outcome in ("succeeded", "http_error", "timed_out", "network_error", "refused",
                        "cancelled"):
            self.assertEqual(value(m, "hookd_attempts_total", outcome=outcome), 0)

    def test_values_move_with_traffic(self):
        rx = Receiver().start()
        self.addCleanup(rx.stop)
        before = self.scrape()
        ok = ("hookd_rpcs_total", None)
        self.stub.CreateWebhook(pb.CreateWebhookRequest(
            name="sync ok", application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
            url=rx.url("/ok")), timeout=10)
        self.stub.CreateWebhook(pb.CreateWebhookRequest(
            name="async down", application=pb.APPLICATION_ENTERPRISE,
            trigger_action="AccountUpdated", url="http://127.0.0.1:1/down", asynchronous=True),
            timeout=10)
        with self.assertRaises(Exception):
            self.stub.GetWebhook(pb.GetWebhookRequest(id=4242), timeout=10)
        for i in range(3):
            self.stub.TriggerEvent(pb.TriggerEventRequest(
                application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
                payload=b'{"n":%d}' % i, origin=pb.ORIGIN_USER), timeout=30)
        rx.wait_for(3, path="/ok", timeout=10)
        end = time.time() + 20
        while True:
            after = self.scrape()
            if value(after, "hookd_attempts_total", outcome="network_error") >= 3:
                break
            self.assertLess(time.time(), end, "async attempts did not finish")
            time.sleep(0.1)
        # The counters move when an attempt ends; the store's gauges below when its result is
        # committed (a write nobody waits for: a taken delivery is out of the due index until then).
        end = time.time() + 15
        while value(after, "hookd_deliveries_due") != 3:
            self.assertLess(time.time(), end, "async attempts' results not stored: %d due"
                            % value(after, "hookd_deliveries_due"))
            time.sleep(0.1)
            after = self.scrape()

        def rpcs(m, method, code):
            try:
                return value(m, *ok, service="hookd.v1.Webhooks", method=method, code=code)
            except KeyError:
                return 0
        self.assertEqual(rpcs(after, "CreateWebhook", "OK") - rpcs(before, "CreateWebhook", "OK"), 2)
        self.assertEqual(rpcs(after, "TriggerEvent", "OK") - rpcs(before, "TriggerEvent", "OK"), 3)
        self.assertEqual(rpcs(after, "GetWebhook", "NOT_FOUND"), 1)
        self.assertEqual(value(after, "hookd_attempts_total", outcome="succeeded"), 3)
        self.assertEqual(value(after, "hookd_attempts_total", outcome="network_error"), 3)
        h = "hookd_attempt_duration_seconds"
        self.assertEqual(value(after, h, h + "_count"), 6)
        self.assertEqual(value(after, h, h + "_bucket", le="+Inf"), 6)
        self.assertGreaterEqual(value(after, h, h + "_sum"), 0)
        self.assertEqual(value(after, "hookd_async_deliveries_total", outcome="retried"), 3)
        # The retry is an hour away: the three async deliveries wait.
        self.assertEqual(value(after, "hookd_deliveries_pending"), 3)
        self.assertEqual(value(after, "hookd_deliveries_due"), 3)
        self.assertGreater(value(after, "hookd_commit_batches_total"),
                           value(before, "hookd_commit_batches_total"))
        self.assertGreater(value(after, "hookd_commit_syncs_total"),
                           value(before, "hookd_commit_syncs_total"))
        # The writer's own view of the group commit: batch sizes and commit times.
        b, d = "hookd_commit_batch_size", "hookd_commit_duration_seconds"
        batches = value(after, b, b + "_count") - value(before, b, b + "_count")
        self.assertGreater(batches, 0)
        self.assertEqual(value(after, b, b + "_bucket", le="+Inf"), value(after, b, b + "_count"))
        # Every batch holds at least one write: the sum of sizes is at least the count.
        self.assertGreaterEqual(value(after, b, b + "_sum") - value(before, b, b + "_sum"), batches)
        self.assertEqual(value(after, d, d + "_count"), value(after, b, b + "_count"))
        self.assertGreater(value(after, d, d + "_sum"), value(before, d, d + "_sum"))
        self.assertGreater(value(after, "hookd_calls_total", listener="socket"),
                           value(before, "hookd_calls_total", listener="socket") + 5)

    def test_tcp_metrics_need_a_session(self):
        self.assertEqual(self.browser.request("GET", "/metrics")[0], 401)
        b = self.logged_in()
        status, headers, body = b.request("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], CONTENT_TYPE)
        m = parse(body.decode())
        self.assertEqual(value(m, "hookd_connections", listener="http"), 1)
        self.assertEqual(value(m, "hookd_admin_sessions"), 1)
        b.call("ListWebhooks")
        m = parse(b.request("GET", "/metrics")[2].decode())
        self.assertGreaterEqual(value(m, "hookd_calls_total", listener="http"), 1)


if __name__ == "__main__":
    unittest.main()
