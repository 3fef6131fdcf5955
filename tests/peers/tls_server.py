#!/usr/bin/env python3
"""A one-shot TLS server for fetch's tests: answers one request with an
HTTP/1.0 close-delimited body, then ends TLS either cleanly (close_notify,
via unwrap) or abruptly (the TCP socket closed under TLS, as a cut
connection or an attacker's injected FIN would look).

    tls_server.py CERT KEY clean|abrupt

Prints the port it listens on (127.0.0.1, port 0), then serves once.
"""
import socket
import ssl
import sys

cert, key, mode = sys.argv[1:4]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
listener.settimeout(20)
raw, _ = listener.accept()
raw.settimeout(20)
tls = context.wrap_socket(raw, server_side=True)
request = b""
while b"\r\n\r\n" not in request:
    data = tls.recv(4096)
    if not data:
        break
    request += data
tls.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nthe whole body")
if mode == "clean":
    tls.unwrap()  # sends close_notify
    raw.close()
else:
    # Close the TCP socket under TLS: no close_notify is sent.
    raw.shutdown(socket.SHUT_RDWR)
    raw.close()
