#!/usr/bin/env python3
"""Hostile clients for a greeting server on loopback, for a bounded time.

Usage: hostile.py PORT SECONDS [--non-readers N] [--drips N] [--oversize N]
                  [--partial N] [--pid PID] [--json] [--tls CAFILE]
                  [--innocent] [--after SECONDS]

  --non-readers N  clients that flood empty lines and never read (each is
                   reopened when the server closes it)
  --drips N        slowloris: one byte every 2 s, never a newline
  --oversize N     lines longer than 64 KiB, again and again
  --partial N      65,535-byte unfinished lines, held open
  --pid PID        sample the server's VmRSS (KiB) and open fds every second;
                   its RSS before the attack is the fresh baseline
  --tls CAFILE     speak TLS (serve --tls-cert or --tls-self-signed), trusting
                   CAFILE, as localhost; each connection's handshake is made
                   before it joins the others
  --innocent       one honest client, in a process of its own, connected
                   before the attack starts, sends a message every 10 ms
                   and times each reply
  --after SECONDS  with --pid: after everything closed, wait this long and
                   sample the RSS again (default 10)

Every client first sends a newline so the server frames by line. Each
hostile socket's own send buffer is bounded (64 KiB): on loopback the
attacker's kernel memory is this host's too. Runs for
SECONDS, closes everything, and prints a summary (JSON with --json): the
sockets opened per kind, how the server ended them, the samples (RSS, fds,
the host's TCP memory from /proc/net/sockstat, the server's socket buffers
from ss -tm), and one table: RSS per non-reader at the peak, the server's
socket buffers (its kernel's share) and the host's TCP memory at the peak, the innocent client's
p50/p99/max reply time, RSS SECONDS after as a multiple of the fresh
baseline, and whether the kernel logged TCP out of memory (dmesg).
"""
import argparse
import json
import multiprocessing
import os
import resource
import selectors
import socket
import ssl
import subprocess
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
p.add_argument('--innocent', action='store_true')
p.add_argument('--after', type=float, default=10)
args = p.parse_args()

# Thousands of sockets: the soft open-file limit up to the hard one.
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

ADDR = ('127.0.0.1', args.port)
FLOOD = b'\n' * 65536
LONG = b'x' * 70000
PARTIAL = b'x' * 65535
CLIENT_SNDBUF = 64 * 1024


def rss_kib(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        return None


def tcp_mem_kib():
    """The host's TCP memory (/proc/net/sockstat counts pages)."""
    try:
        with open('/proc/net/sockstat') as f:
            for line in f:
                if line.startswith('TCP:'):
                    fields = line.split()
                    return int(fields[fields.index('mem') + 1]) * os.sysconf('SC_PAGE_SIZE') // 1024
    except (OSError, ValueError):
        return None


def server_socket_kib(port):
    """What the kernel holds in the buffers of the server's connections on
    PORT (ss -tm: queued input plus queued output), KiB."""
    try:
        out = subprocess.run(['ss', '-tmnH', 'state', 'established', '( sport = :%d )' % port],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    total = 0
    for part in out.split('skmem:(')[1:]:
        for field in part.split(')')[0].split(','):
            if field[:1] in ('r', 'w') and field[1:].isdigit():
                total += int(field[1:])
    return total // 1024


def tcp_oom_lines():
    """How many 'TCP: out of memory' lines the kernel has logged."""
    try:
        out = subprocess.run(['dmesg'], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.count('TCP: out of memory')


def fds(pid):
    try:
        return len(os.listdir('/proc/%d/fd' % pid))
    except OSError:
        return None


class Client:
    def __init__(self, kind):
        self.kind = kind
        raw = socket.socket()
        # The attacker's own kernel buffers are on this host too (loopback):
        # bounded, so the host's TCP memory shows the server's share and the
        # benchmark does not exhaust it itself.
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CLIENT_SNDBUF // 2)
        if TLS:
            raw.connect(ADDR)
            self.sock = TLS.wrap_socket(raw, server_hostname='localhost')
        else:
            self.sock = raw
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


def innocent_client(stop, results):
    """An honest client in a process of its own (so the attack's loop does
    not delay its timing): a message every 10 ms, each reply timed (ms)."""
    times, failed, slow = [], None, []
    began = time.perf_counter()
    try:
        raw = socket.create_connection(ADDR, timeout=30)
        sock = TLS.wrap_socket(raw, server_hostname='localhost') if TLS else raw
        buf = b''

        def line():
            nonlocal buf
            while b'\n' not in buf:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError('the server closed the innocent client')
                buf += chunk
            got, buf = buf.split(b'\n', 1)
            return got

        line()  # the welcome
        results.send('ready')
        while not stop.is_set():
            started = time.perf_counter()
            sock.sendall(b'Michael\n')
            if line() != b'Hello, Michael!':
                raise ValueError('wrong reply')
            times.append((time.perf_counter() - started) * 1000)
            if times[-1] > 50:
                slow.append((round(started - began, 2), round(times[-1], 1)))
            time.sleep(0.01)
        retrans = retransmissions(raw)
    except (OSError, ValueError) as e:
        failed = str(e)
        results.send('ready')
        retrans = None
    results.send((times, failed, slow, retrans))


def retransmissions(sock):
    """Segments each end of a connection retransmitted (Linux: this end's
    TCP_INFO, the server's end from ss), or None where not shown. A reply
    late by 200 ms or more with a retransmission is the network's delay
    (on loopback: a packet dropped from a full backlog), not the server's."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        ours = int.from_bytes(info[100:104], 'little')
        local = sock.getsockname()[1]
        out = subprocess.run(['ss', '-tinH', 'state', 'established',
                              '( sport = :%d and dport = :%d )' % (args.port, local)],
                             capture_output=True, text=True, timeout=5).stdout
        theirs = 0
        for word in out.split():
            if word.startswith('retrans:'):
                theirs = int(word.split('/')[-1])
        return {'innocent': ours, 'server': theirs}
    except (OSError, AttributeError, ValueError, subprocess.SubprocessError):
        return None


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


baseline_kib = rss_kib(args.pid) if args.pid else None
oom_before = tcp_oom_lines()
innocent = None
if args.innocent:
    stop_innocent = multiprocessing.Event()
    innocent_results, child_end = multiprocessing.Pipe(duplex=False)
    innocent = multiprocessing.Process(target=innocent_client, args=(stop_innocent, child_end))
    innocent.start()
    innocent_results.recv()  # connected and welcomed before the attack

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
                                 'rss_kib': rss_kib(args.pid), 'fds': fds(args.pid),
                                 'tcp_mem_kib': tcp_mem_kib(),
                                 'server_sockets_kib': server_socket_kib(args.port)})
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
innocent_times, innocent_failed, innocent_slow, innocent_retrans = [], None, [], None
if innocent:
    stop_innocent.set()
    if innocent_results.poll(10):
        innocent_times, innocent_failed, innocent_slow, innocent_retrans = innocent_results.recv()
    innocent.join(5)

table = {}
rss = [x['rss_kib'] for x in stats['samples'] if x.get('rss_kib')]
if baseline_kib and rss and args.non_readers:
    table['rss_per_non_reader_kib'] = round((max(rss) - baseline_kib) / args.non_readers, 1)
kernel = [x['server_sockets_kib'] for x in stats['samples'] if x.get('server_sockets_kib')]
if kernel and args.non_readers:
    table['server_kernel_peak_mib'] = round(max(kernel) / 1024, 1)
    table['server_kernel_per_non_reader_kib'] = round(max(kernel) / args.non_readers, 1)
tcp = [x['tcp_mem_kib'] for x in stats['samples'] if x.get('tcp_mem_kib') is not None]
if tcp:
    table['host_tcp_mem_peak_mib'] = round(max(tcp) / 1024, 1)
if innocent:
    times = innocent_times
    table['innocent_replies'] = len(times)
    table['innocent_ms'] = {k: round(v, 1) if v is not None else None for k, v in
                            (('p50', percentile(times, 0.5)), ('p99', percentile(times, 0.99)),
                             ('max', max(times) if times else None))}
    table['innocent_failed'] = innocent_failed
    stats['innocent_slow'] = innocent_slow  # (seconds in, ms) of replies over 50 ms
    table['innocent_retransmissions'] = innocent_retrans
if baseline_kib:
    table['rss_fresh_kib'] = baseline_kib
    if args.after > 0:
        time.sleep(args.after)
        after = rss_kib(args.pid)
        table['rss_after_kib'] = after
        if after:
            table['rss_after_x_fresh'] = round(after / baseline_kib, 2)
oom_after = tcp_oom_lines()
if oom_before is not None and oom_after is not None:
    table['kernel_tcp_oom_lines'] = oom_after - oom_before
stats['table'] = table

if args.json:
    print(json.dumps(stats))
else:
    print('opened:', stats['opened'])
    print('closed by the server:', stats['closed_by_server'])
    print('errors:', stats['errors'])
    for s in stats['samples']:
        print('t=%5.1fs rss=%s KiB fds=%s tcp_mem=%s KiB server_sockets=%s KiB'
              % (s['t'], s['rss_kib'], s['fds'], s['tcp_mem_kib'], s['server_sockets_kib']))
    print()
    print('| measure | value |')
    print('|---|---|')
    names = {
        'rss_per_non_reader_kib': 'RSS per non-reader at the peak (KiB)',
        'server_kernel_peak_mib': "server's socket buffers at the peak (MiB, ss -tm)",
        'server_kernel_per_non_reader_kib': "server's socket buffers per non-reader (KiB)",
        'host_tcp_mem_peak_mib': "host's TCP memory at the peak (MiB, both ends)",
        'innocent_replies': 'innocent client: replies',
        'innocent_failed': 'innocent client: failure',
        'innocent_retransmissions': "innocent connection's retransmitted segments (client, server)",
        'rss_fresh_kib': 'fresh RSS (KiB)',
        'rss_after_kib': 'RSS %g s after (KiB)' % args.after,
        'rss_after_x_fresh': 'RSS %g s after / fresh' % args.after,
        'kernel_tcp_oom_lines': "kernel's 'TCP: out of memory' lines",
    }
    for key, value in table.items():
        if key == 'innocent_ms':
            print('| innocent client p50 / p99 / max (ms) | %s / %s / %s |'
                  % (value['p50'], value['p99'], value['max']))
        elif key == 'innocent_retransmissions' and value:
            print('| %s | %s, %s |' % (names[key], value['innocent'], value['server']))
        else:
            print('| %s | %s |' % (names.get(key, key), value))
