#!/usr/bin/env python3
"""Measures a greeting server's RSS growth per idle connection.

Usage: idle_rss.py PID PORT [N]   (loopback only; N defaults to 10000)
Opens N connections to 127.0.0.1:PORT, reads each welcome, waits for the
server to settle, reads VmRSS of PID before and after, prints bytes per
connection, checks a sample still answers, then closes everything.
"""
import selectors
import socket
import sys
import time

pid, port = int(sys.argv[1]), int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000


def rss_kib():
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise SystemExit('no VmRSS for pid %d' % pid)


time.sleep(0.5)
before = rss_kib()
socks = []
for i in range(n):
    s = socket.create_connection(('127.0.0.1', port))
    socks.append(s)
    if len(socks) % 500 == 0:
        time.sleep(0.01)  # let the server keep up; the backlog is finite
sel = selectors.DefaultSelector()
for s in socks:
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
welcomed = 0
deadline = time.time() + 60
while welcomed < n and time.time() < deadline:
    for key, _ in sel.select(timeout=1):
        if key.fileobj.recv(64):
            welcomed += 1
        sel.unregister(key.fileobj)
time.sleep(1.0)
after = rss_kib()
answered = 0
for s in socks[:: max(1, n // 20)]:
    s.setblocking(True)
    s.settimeout(5)
    s.sendall(b'ping\n')
    if s.recv(64) == b'Hello, ping!\n':
        answered += 1
print('connections=%d welcomed=%d rss_before_kib=%d rss_after_kib=%d bytes_per_conn=%.0f sample_answered=%d/%d'
      % (n, welcomed, before, after, (after - before) * 1024 / n, answered, len(socks[:: max(1, n // 20)])))
for s in socks:
    s.close()
