#!/usr/bin/python3
"""rpc_grpcio.py -- GetWebhook rate and latency from a stock client (Debian's python3-grpcio).

usage: /usr/bin/python3 bench/rpc_grpcio.py SOCKET_PATH [SECONDS]
Needs the generated stubs on PYTHONPATH (build/py, made by the build).
Sequential calls (1 in flight), then 8 threads sharing one channel."""
import sys
import threading
import time

import grpc
from hookd.v1 import webhooks_pb2 as pb
from hookd.v1 import webhooks_pb2_grpc as pb_grpc


def quantile(xs, q):
    xs = sorted(xs)
    return xs[int(q * (len(xs) - 1) + 0.5)] if xs else 0.0


def main():
    sock, seconds = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    stub = pb_grpc.WebhooksStub(grpc.insecure_channel("unix://" + sock))
    try:
        wh = stub.CreateWebhook(pb.CreateWebhookRequest(
            name="bench-grpcio", application=pb.APPLICATION_ENTERPRISE,
            trigger_action="AccountUpdated", url="https://receiver.example.com/hook"))
        wid = wh.id
    except grpc.RpcError:
        wid = stub.GetWebhook(pb.GetWebhookRequest(name="bench-grpcio")).id
    req = pb.GetWebhookRequest(id=wid)

    for threads in (1, 8):
        lat, lock = [], threading.Lock()
        end = time.monotonic() + seconds

        def worker():
            mine = []
            while True:
                t = time.monotonic()
                if t >= end:
                    break
                stub.GetWebhook(req)
                mine.append(time.monotonic() - t)
            with lock:
                lat.extend(mine)

        t0 = time.monotonic()
        ws = [threading.Thread(target=worker) for _ in range(threads)]
        for w in ws:
            w.start()
        for w in ws:
            w.join()
        elapsed = time.monotonic() - t0
        print("GetWebhook (python grpcio)  in-flight %-2d %8.0f calls/s  p50 %7.1f us  p99 %7.1f us"
              % (threads, len(lat) / elapsed, quantile(lat, .5) * 1e6, quantile(lat, .99) * 1e6))


if __name__ == "__main__":
    main()
