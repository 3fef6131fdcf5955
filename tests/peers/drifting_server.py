#!/usr/bin/env python3
"""A greeting server that answers correctly at first and then gets one
byte wrong: proves `tcpkit bench` checks every reply during the run, not
only the first. Thread per connection; the first ANSWER_OK replies of
each connection are right, then "Hello, NAME?" instead of "Hello, NAME!".

Usage: drifting_server.py [ANSWER_OK]   (binds 127.0.0.1:0, prints the address)
"""
import socket
import sys
import threading

ANSWER_OK = int(sys.argv[1]) if len(sys.argv) > 1 else 100


def serve(sock):
    sock.sendall(b'Welcome!\n')
    pending, answered = b'', 0
    while True:
        data = sock.recv(4096)
        if not data:
            break
        pending += data
        *lines, pending = pending.split(b'\n')
        for line in lines:
            if line == b'exit':
                sock.close()
                return
            mark = b'!' if answered < ANSWER_OK else b'?'
            sock.sendall(b'Hello, %s%s\n' % (line, mark))
            answered += 1
    sock.close()


s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(64)
print('Waiting for connection on %s:%s...' % s.getsockname(), flush=True)
while True:
    conn, _ = s.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
