#!/usr/bin/env python3
"""The tutorial's thread-per-connection greeting server, as the tutorial wrote it.

A test peer for `tcpkit talk --framing chunk` (and later a bench baseline).
Usage: tutorial_server.py [PORT] [DELAY_SECONDS]; PORT 0 picks a free port.
The tutorial hard-codes 127.0.0.1:9999 and a 1 s sleep; both are arguments
here so tests can run fast. It prints the bound address so callers can find it.
"""
import socket
import sys
import threading
import time

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999
DELAY = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0


def tcplink(sock, addr):
    print('Accept new connection from %s:%s...' % addr, flush=True)
    sock.send(b'Welcome!')
    while True:
        data = sock.recv(1024)
        time.sleep(DELAY)
        if not data or data.decode('utf-8') == 'exit':
            break
        sock.send(('Hello, %s!' % data.decode('utf-8')).encode('utf-8'))
    sock.close()
    print('Connection from %s:%s closed.' % addr, flush=True)


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', PORT))
s.listen(5)
print('Waiting for connection on %s:%s...' % s.getsockname(), flush=True)
while True:
    sock, addr = s.accept()
    t = threading.Thread(target=tcplink, args=(sock, addr), daemon=True)
    t.start()
