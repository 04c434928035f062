#!/usr/bin/env python3
"""More connections than the server takes.

    python3 ops/probes/connection-limit.py HOST PORT CONNECTIONS

Holds CONNECTIONS idle connections open, then sends 50 GET /healthz on new connections and
counts the answers by status and error code.
"""
import http.client
import json
import socket
import sys
import time

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = [socket.create_connection((host, port)) for _ in range(count)]
time.sleep(0.5)
answers, latencies = {}, []
for _ in range(50):
    client = http.client.HTTPConnection(host, port, timeout=10)
    sent = time.time()
    try:
        client.request("GET", "/healthz")
        response = client.getresponse()
        body = response.read()
        code = "ok" if response.status == 200 else json.loads(body)["error"]["code"]
        key = f"{response.status} {code} retry-after={response.getheader('retry-after')}"
    except OSError as e:
        key = type(e).__name__
    latencies.append((time.time() - sent) * 1000)
    answers[key] = answers.get(key, 0) + 1
    client.close()
latencies.sort()
print(
    f"{count} idle connections held; 50 requests: {answers}; "
    f"p50 {latencies[25]:.1f} ms, max {latencies[-1]:.1f} ms"
)
