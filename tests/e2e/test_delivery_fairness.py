"""test_delivery_fairness.py -- one slow receiver does not hold up the others: a receiver that
sleeps 10 s beside a fast one, both asynchronous, events to both at 30/s; the fast receiver's
delivery rate and p99 latency stay within 20 % of what it gets alone (measured first, in the
same test). Real hookd; the receivers are a separate asyncio process on loopback, so their
timing does not share the test's interpreter with the gRPC client.

hookd's data directory is on tmpfs: what is measured is the delivery scheduler, and an async
event is delivered only after its commit's fdatasync, whose tail on these VMs (50-110 ms often,
once a 700 ms stall that held every event behind it, in either phase) is the disk's, not
fairness's.

The figures are printed; with one shared pool and no per-webhook cap (before the fix) the slow
receiver took every slot after 8 s and the fast one's p99 went to seconds.
"""
import asyncio
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

from harness import pb
from delivery import DeliveryCase

RATE = 30        # events per second, each to every webhook of the action
ALONE_S = 6      # the fast receiver alone
BESIDE_S = 12    # beside the slow one: past the 8 s the slow one needed to fill the old pool
SLOW_S = 10      # the slow receiver's answer time
# On top of 20 %: what a loaded 2-core CI box (ctest -j2 beside other suites) adds to the
# few samples a p99 rests on, by scheduling alone: a descheduled hookd or receiver, an fsync
# that waited. Seen: p99 from 5 ms to 110 ms between runs of the same build, in either phase.
# The regression this catches costs seconds (2.0 s before the fix).
NOISE_S = 0.100


# --- the receivers (run as: python3 test_delivery_fairness.py --serve LOG) -------------------

async def _handle(reader, writer, delay, log):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            arrival = time.time()
            if log is not None:
                # From the event's own time (hookd's, in the envelope): the test's client
                # and its interpreter stay out of the figure.
                env = json.loads(body)
                sent = datetime.datetime.fromisoformat(env["timestamp"]).timestamp()
                log.write("%.6f %.6f %d\n" % (arrival, sent, env["data"]["seq"]))
                log.flush()
            if delay:
                await asyncio.sleep(delay)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _serve(log_path):
    log = open(log_path, "a")
    fast = await asyncio.start_server(lambda r, w: _handle(r, w, 0, log), "127.0.0.1", 0)
    slow = await asyncio.start_server(lambda r, w: _handle(r, w, SLOW_S, None), "127.0.0.1", 0,
                                      backlog=1024)
    print(fast.sockets[0].getsockname()[1], slow.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until EOF


# --- the test ------------------------------------------------------------------------------

def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


class Fairness(DeliveryCase):
    config = "retry_schedule = 0,5\n"
    base_parent = "/dev/shm"

    def setUp(self):
        super().setUp()
        self.arrivals = tempfile.NamedTemporaryFile("r", suffix=".log", delete=False)
        self.addCleanup(os.unlink, self.arrivals.name)
        self.rxp = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve",
                                     self.arrivals.name], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE)
        self.addCleanup(self._stop_receivers)
        fast, slow = self.rxp.stdout.readline().split()
        self.fast_url = "http://127.0.0.1:%d/fast" % int(fast)
        self.slow_url = "http://127.0.0.1:%d/slow" % int(slow)

    def _stop_receivers(self):
        self.rxp.stdin.close()
        try:
            self.rxp.wait(5)
        except subprocess.TimeoutExpired:
            self.rxp.kill()
            self.rxp.wait()
        self.rxp.stdout.close()

    def send(self, seconds, first_seq):
        """TriggerEvent at RATE/s for seconds, paced by the clock (calls in flight overlap);
        returns the sequence numbers sent."""
        futures, seqs = [], []
        start = time.monotonic()
        n = int(seconds * RATE)
        for i in range(n):
            delay = start + i / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            seq = first_seq + i
            payload = json.dumps({"seq": seq}).encode()
            futures.append(self.stub.TriggerEvent.future(pb.TriggerEventRequest(
                application=pb.APPLICATION_ENTERPRISE, trigger_action="AccountUpdated",
                payload=payload, origin=pb.ORIGIN_USER), timeout=30))
            seqs.append(seq)
        for f in futures:
            f.result()
        return seqs

    def fast_figures(self, seqs, timeout):
        """Waits until the fast receiver has every seq; returns (rate/s, p50 s, p99 s)."""
        want, end = set(seqs), time.monotonic() + timeout
        while True:
            got = {}
            with open(self.arrivals.name) as f:
                for line in f:
                    arrival, sent, seq = line.split()
                    got[int(seq)] = (float(arrival), float(sent))
            if want <= set(got) or time.monotonic() > end:
                break
            time.sleep(0.1)
        self.assertEqual(want - set(got), set(), "fast deliveries missing")
        mine = [got[s] for s in seqs]
        lat = [a - s for a, s in mine]
        span = max(a for a, _ in mine) - min(s for _, s in mine)
        return len(mine) / span, percentile(lat, 0.5), percentile(lat, 0.99)

    def test_slow_receiver_does_not_hold_up_a_fast_one(self):
        self.hook(url=self.fast_url, asynchronous=True)
        alone = self.fast_figures(self.send(ALONE_S, 0), 10)
        self.hook(url=self.slow_url, asynchronous=True)
        beside = self.fast_figures(self.send(BESIDE_S, 100000), 10)
        print("\nfast receiver alone:  %.1f/s p50 %.1f ms p99 %.1f ms" %
              (alone[0], alone[1] * 1e3, alone[2] * 1e3), file=sys.stderr)
        print("beside a 10 s one:    %.1f/s p50 %.1f ms p99 %.1f ms" %
              (beside[0], beside[1] * 1e3, beside[2] * 1e3), file=sys.stderr)
        self.assertGreaterEqual(beside[0], alone[0] * 0.8, (alone, beside))
        self.assertLessEqual(beside[2], alone[2] * 1.2 + NOISE_S, (alone, beside))
        # Nothing failed on the way (the slow receiver's deliveries wait, they do not fail).
        failed = self.stub.ListDeliveries(pb.ListDeliveriesRequest(
            state=pb.DELIVERY_STATE_FAILED, page_size=10), timeout=10)
        self.assertEqual(list(failed.deliveries), [])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        asyncio.run(_serve(sys.argv[2]))
    else:
        unittest.main()
