#!/usr/bin/env python3
"""Slowloris against a running server.

    python3 ops/probes/slowloris.py HOST PORT CONNECTIONS SECONDS

Opens CONNECTIONS connections that each send half a request head and then nothing; times
GET /healthz from a well-behaved client for SECONDS meanwhile; then counts how many of the slow
connections the server has closed (or answered, which it does only to close them).
"""
import http.client
import socket
import sys
import time

host, port, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
slow = []
for _ in range(count):
    s = socket.create_connection((host, port))
    s.sendall(b"GET /api/v1/courses HTTP/1.1\r\nHost: x\r\n")
    s.setblocking(False)
    slow.append(s)

start = time.time()
latencies, last = [], None
while time.time() - start < seconds:
    client = http.client.HTTPConnection(host, port, timeout=10)
    sent = time.time()
    try:
        client.request("GET", "/healthz")
        response = client.getresponse()
        response.read()
        last = response.status
    except OSError as e:
        last = type(e).__name__
    latencies.append((time.time() - sent) * 1000)
    client.close()
    time.sleep(0.2)

closed = 0
for s in slow:
    try:
        s.recv(4096)  # b"" (closed) or an answer: either way the server let go
        closed += 1
    except BlockingIOError:
        pass  # still open, waiting for the rest of the head
    except OSError:
        closed += 1
latencies.sort()
print(
    f"{count} slow connections, after {seconds:.0f} s: {closed} closed by the server; "
    f"GET /healthz meanwhile p50 {latencies[len(latencies) // 2]:.1f} ms, "
    f"max {latencies[-1]:.1f} ms, last answer {last}"
)
