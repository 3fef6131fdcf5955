#!/usr/bin/env python3
"""serve with a stderr pipe that is read up to its address, then never: how
many of 5,000 sessions it serves, and whether SIGTERM (then a second one)
stops it.  python3 bench/stalled_log.py BIN [--trace]"""
import socket, subprocess, sys, time, signal
bin_, extra = sys.argv[1], sys.argv[2:]
p = subprocess.Popen([bin_, "--plain-logs", "serve", "--bind", "127.0.0.1:0", *extra], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
addr = None
while addr is None:
    line = p.stderr.readline().decode()
    if line.startswith("Waiting for connection on "):
        h, port = line.split()[-1].rstrip(".").rsplit(":", 1); addr = (h, int(port))
served = 0
for i in range(5000):
    try:
        s = socket.create_connection(addr, timeout=2); s.settimeout(2)
        f = s.makefile("rb")
        assert f.readline() == b"Welcome!\n"
        s.sendall(b"n%d\nexit\n" % i)
        assert f.readline().startswith(b"Hello")
        f.readline(); s.close(); served += 1
    except Exception as e:
        break
t = time.time(); p.send_signal(signal.SIGTERM)
try:
    code = p.wait(timeout=5); first = "exit %s after %.2fs" % (code, time.time() - t)
except subprocess.TimeoutExpired:
    first = "still running 5s after SIGTERM"
    t = time.time(); p.send_signal(signal.SIGTERM)
    try:
        code = p.wait(timeout=3); first += "; second SIGTERM: exit %s after %.2fs" % (code, time.time() - t)
    except subprocess.TimeoutExpired:
        first += "; second SIGTERM ignored too (3s)"; p.kill(); p.wait()
print(bin_, extra, "served", served, "of 5000;", first)
