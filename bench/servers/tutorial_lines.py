#!/usr/bin/env python3
"""The tutorial's thread-per-connection greeting server, rendered for line
framing so it can be pipelined: a thread per client, listen backlog 5 as in
the tutorial, recv(1024), and one send per reply. Only the framing differs
from tests/peers/tutorial_server.py: a message is a line, so replies can be
counted when many are in flight. A baseline for bench/compare.sh.

Usage: tutorial_lines.py [PORT]   (127.0.0.1; PORT 0 picks a free port)
"""
import socket
import sys
import threading

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9999


def tcplink(sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.send(b'Welcome!\n')
    pending = b''
    while True:
        data = sock.recv(1024)
        if not data:
            break
        pending += data
        *lines, pending = pending.split(b'\n')
        for line in lines:
            if line == b'exit':
                sock.close()
                return
            sock.sendall(b'Hello, %s!\n' % line)
    sock.close()


s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', PORT))
s.listen(5)
print('Waiting for connection on %s:%s...' % s.getsockname(), file=sys.stderr, flush=True)
while True:
    sock, addr = s.accept()
    threading.Thread(target=tcplink, args=(sock,), daemon=True).start()
