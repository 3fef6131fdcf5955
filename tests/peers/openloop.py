"""An independent open-loop client: one connection, a message every 1/RATE s,
each due time waited for by busy-waiting on time.perf_counter, latency counted
from the due time (as wrk2 and tcpkit bench -R do). Prints the p50 in us."""
import socket, sys, time
host, port, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.create_connection((host, port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile("rb")
assert f.readline() == b"Welcome!\n"
gap = 1.0 / rate
warm = 0.3
start = time.perf_counter() + 0.01
lat = []
n = 0
while True:
    due = start + n * gap
    if due > start + warm + seconds:
        break
    while time.perf_counter() < due:
        pass
    s.sendall(b"Michael\n")
    line = f.readline()
    done = time.perf_counter()
    assert line == b"Hello, Michael!\n", line
    if due >= start + warm:
        lat.append(done - due)
    n += 1
lat.sort()
print("%.1f" % (lat[len(lat) // 2] * 1e6))
