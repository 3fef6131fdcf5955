#!/usr/bin/env python3
"""The tutorial's client for the greeting server, as the tutorial wrote it:
bare messages with no newline, one recv per reply.
Usage: tutorial_client.py PORT
"""
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(('127.0.0.1', int(sys.argv[1])))
print(s.recv(1024).decode('utf-8'))
for data in [b'Michael', b'Tracy', b'Sarah']:
    s.send(data)
    print(s.recv(1024).decode('utf-8'))
s.send(b'exit')
s.close()
