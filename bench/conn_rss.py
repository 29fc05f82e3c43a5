#!/usr/bin/env python3
"""Memory of an OpenRMS node across a spike of TLS connections (run by hand).

Opens N TLS connections to a running node, sends one keep-alive GET /healthz
on each and keeps them all open, then closes them, printing the node's RSS
(VmRSS from /proc) before, at the peak, and after. Example, with the demo:

  build/openrms demo --dir /tmp/demo --port 8443 &
  ulimit -n 20000
  bench/conn_rss.py --pid $! --port 8443 --ca /tmp/demo/server/tls-ca.pem -n 5000
"""
import argparse
import socket
import ssl
import time


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def get(ctx, port, path, source):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10,
                                   source_address=(source, 0))
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, body = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += s.recv(4096)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.split(b"\r\n")[0])
    return s


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("-n", type=int, default=5000)
    p.add_argument("--path", default="/healthz")
    p.add_argument("--rounds", type=int, default=1)
    # Below the node's per-address limit (ServerOptions, default 256): the
    # client uses 127.0.0.2, 127.0.0.3, ... (Linux routes 127/8 to lo).
    p.add_argument("--per-source", type=int, default=200)
    a = p.parse_args()
    ctx = ssl.create_default_context(cafile=a.ca)
    print(f"before: {rss_mb(a.pid):.1f} MB")
    for r in range(a.rounds):
        conns = [get(ctx, a.port, a.path, f"127.0.{2 + i // a.per_source // 250}."
                     f"{2 + i // a.per_source % 250}") for i in range(a.n)]
        time.sleep(1)
        print(f"round {r + 1}: peak with {len(conns)} open: {rss_mb(a.pid):.1f} MB")
        for s in conns:
            s.close()
        conns = None
        for wait in (1, 3, 12):
            time.sleep(wait)
            print(f"round {r + 1}: {wait} s after closing: {rss_mb(a.pid):.1f} MB")


if __name__ == "__main__":
    main()
