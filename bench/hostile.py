#!/usr/bin/env python3
"""Hostile clients for a greeting server on loopback, for a bounded time.

Usage: hostile.py PORT SECONDS [--non-readers N] [--drips N] [--oversize N]
                  [--partial N] [--pid PID] [--json] [--tls CAFILE]

  --non-readers N  clients that flood empty lines and never read (each is
                   reopened when the server closes it)
  --drips N        slowloris: one byte every 2 s, never a newline
  --oversize N     lines longer than 64 KiB, again and again
  --partial N      65,535-byte unfinished lines, held open
  --pid PID        sample the server's VmRSS (KiB) and open fds every second
  --tls CAFILE     speak TLS (serve --tls-cert or --tls-self-signed), trusting
                   CAFILE, as localhost; each connection's handshake is made
                   before it joins the others

Every client first sends a newline so the server frames by line. Runs for
SECONDS, closes everything, and prints a summary (JSON with --json): the
sockets opened per kind, how the server ended them, and the samples.
"""
import argparse
import json
import os
import selectors
import socket
import ssl
import time

p = argparse.ArgumentParser()
p.add_argument('port', type=int)
p.add_argument('seconds', type=float)
p.add_argument('--non-readers', type=int, default=0)
p.add_argument('--drips', type=int, default=0)
p.add_argument('--oversize', type=int, default=0)
p.add_argument('--partial', type=int, default=0)
p.add_argument('--pid', type=int)
p.add_argument('--json', action='store_true')
p.add_argument('--tls', metavar='CAFILE')
args = p.parse_args()

ADDR = ('127.0.0.1', args.port)
FLOOD = b'\n' * 65536
LONG = b'x' * 70000
PARTIAL = b'x' * 65535


def rss_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        return None


def fds(pid):
    try:
        return len(os.listdir('/proc/%d/fd' % pid))
    except OSError:
        return None


class Client:
    def __init__(self, kind):
        self.kind = kind
        if TLS:
            self.sock = TLS.wrap_socket(socket.create_connection(ADDR),
                                        server_hostname='localhost')
        else:
            self.sock = socket.socket()
        self.sock.setblocking(False)
        if not TLS:
            self.sock.connect_ex(ADDR)
        self.out = b'\n'
        if kind == 'oversize':
            self.out += LONG + b'\n'
        elif kind == 'partial':
            self.out += PARTIAL
        self.next_drip = time.time() + 2

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


TLS = ssl.create_default_context(cafile=args.tls) if args.tls else None
# Over TLS a nonblocking socket that cannot go on says so with these.
WAIT = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)

stats = {'opened': {}, 'closed_by_server': {}, 'errors': {}, 'samples': []}
sel = selectors.DefaultSelector()
clients = []


def open_client(kind):
    c = Client(kind)
    clients.append(c)
    sel.register(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    stats['opened'][kind] = stats['opened'].get(kind, 0) + 1


def drop(c, why):
    d = stats['closed_by_server'] if why == 'closed' else stats['errors']
    d[c.kind] = d.get(c.kind, 0) + 1
    sel.unregister(c.sock)
    c.close()
    clients.remove(c)
    open_client(c.kind)


wanted = {'non-reader': args.non_readers, 'drip': args.drips,
          'oversize': args.oversize, 'partial': args.partial}
for kind, count in wanted.items():
    for _ in range(count):
        open_client(kind)

end = time.time() + args.seconds
next_sample = time.time()
while time.time() < end:
    now = time.time()
    if args.pid and now >= next_sample:
        stats['samples'].append({'t': round(args.seconds - (end - now), 1),
                                 'rss_kib': rss_kib(args.pid), 'fds': fds(args.pid)})
        next_sample += 1
    for key, mask in sel.select(timeout=0.05):
        c = key.data
        if mask & selectors.EVENT_READ and c.kind != 'non-reader':
            try:
                if not c.sock.recv(65536):
                    drop(c, 'closed')
                    continue
            except WAIT:
                pass
            except OSError:
                drop(c, 'error')
                continue
            if c.kind == 'oversize' and not c.out:
                c.out = LONG + b'\n'
        if mask & selectors.EVENT_WRITE:
            if not c.out and c.kind == 'non-reader':
                c.out = FLOOD
            try:
                if c.out:
                    n = c.sock.send(c.out)
                    c.out = c.out[n:]
            except WAIT:
                pass
            except OSError:
                drop(c, 'closed')
                continue
            if not c.out and c.kind != 'non-reader':
                sel.modify(c.sock, selectors.EVENT_READ, c)
    for c in list(clients):
        if c.kind == 'drip' and now >= c.next_drip and not c.out:
            c.next_drip = now + 2
            try:
                c.sock.send(b'z')
            except OSError:
                pass

for c in clients:
    c.close()
if args.json:
    print(json.dumps(stats))
else:
    print('opened:', stats['opened'])
    print('closed by the server:', stats['closed_by_server'])
    print('errors:', stats['errors'])
    for s in stats['samples']:
        print('t=%5.1fs rss=%s KiB fds=%s' % (s['t'], s['rss_kib'], s['fds']))
