"""The tutorial's greeting protocol on stdin/stdout, one client: for
`ncat --ssl -l --exec`, which puts TLS around it (a TLS server that is not
ours, for `tcpkit talk --tls`)."""
import sys

sys.stdout.write("Welcome!\n")
sys.stdout.flush()
for line in sys.stdin:
    name = line.rstrip("\r\n")
    if name == "exit":
        break
    sys.stdout.write("Hello, %s!\n" % name)
    sys.stdout.flush()
