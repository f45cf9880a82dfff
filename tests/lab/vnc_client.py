#!/usr/bin/env python3
"""A minimal RFB (VNC) client for the lab's TigerVNC: makes it refuse a source, checks the
refusal, and lifts it. Standard library only; run inside a lab namespace.

    vnc_client.py fail HOST[:PORT] [N]   N connections that read the server's version and
                                         close without authenticating: what a client that
                                         keeps failing looks like to TigerVNC's blacklist
                                         (BlacklistThreshold 5 by default)
    vnc_client.py state HOST[:PORT]      prints "offered <types>" or "refused <reason>"
    vnc_client.py block HOST[:PORT] [S]  fails until the server refuses this source (at
                                         most S seconds); exit 0 once refused
    vnc_client.py clear HOST[:PORT] [S]  waits (at most S seconds) until the server lets
                                         this source in, then authenticates with security
                                         type None, which clears the source's marks

TigerVNC (common/rfb/Blacklist.cxx) counts every connection from an address that has not
authenticated; past the threshold the address is refused ("Too many security failures")
for BlacklistTimeout seconds (10, doubling after each further failure), and a successful
authentication clears its marks. Only the lab's own namespaces are ever contacted.
"""

import socket
import sys
import time

TIMEOUT = 3.0


def target(arg):
    host, _, port = arg.partition(":")
    return host, int(port or 5900)


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_reason(sock):
    length = int.from_bytes(recv_exact(sock, 4), "big")
    return recv_exact(sock, min(length, 1024)).decode("utf-8", "replace")


def handshake(addr):
    """Connects and reads the security types: ("offered", [types], sock) in RFB 3.7+,
    ("chosen", [type], sock) in 3.3 (the server picks), or ("refused", reason, None). A
    refusing TigerVNC announces 3.3 and picks 0 (failed), with its reason."""
    sock = socket.create_connection(addr, timeout=TIMEOUT)
    version = recv_exact(sock, 12)
    if not version.startswith(b"RFB "):
        sock.close()
        raise ConnectionError(f"not RFB: {version!r}")
    if version < b"RFB 003.007\n":
        sock.sendall(b"RFB 003.003\n")
        chosen = int.from_bytes(recv_exact(sock, 4), "big")
        if chosen == 0:
            reason = read_reason(sock)
            sock.close()
            return "refused", reason, None
        # 3.3: the server chose; None has no SecurityResult, so mark the list as chosen.
        return "chosen", [chosen], sock
    sock.sendall(b"RFB 003.008\n")
    count = recv_exact(sock, 1)[0]
    if count == 0:
        reason = read_reason(sock)
        sock.close()
        return "refused", reason, None
    types = list(recv_exact(sock, count))
    return "offered", types, sock


def fail(addr, n):
    for _ in range(n):
        with socket.create_connection(addr, timeout=TIMEOUT) as sock:
            recv_exact(sock, 12)


def state(addr):
    kind, detail, sock = handshake(addr)
    if sock:
        sock.close()
    return ("offered" if kind == "chosen" else kind), detail


def block(addr, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kind, detail = state(addr)
        if kind == "refused":
            print(f"refused {detail}")
            return 0
        fail(addr, 1)
    print("not refused", file=sys.stderr)
    return 1


def clear(addr, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kind, detail, sock = handshake(addr)
        if kind in ("offered", "chosen"):
            with sock:
                if 1 not in detail:
                    print(f"security type None not offered: {detail}", file=sys.stderr)
                    return 1
                if kind == "offered":
                    sock.sendall(bytes([1]))
                    result = int.from_bytes(recv_exact(sock, 4), "big")
                    if result != 0:
                        print(f"SecurityResult {result}", file=sys.stderr)
                        return 1
                # ClientInit (shared): the server counts the client as connected.
                sock.sendall(b"\x01")
                recv_exact(sock, 24)
            print("authenticated")
            return 0
        time.sleep(1.0)
    print(f"still refused after {seconds} s", file=sys.stderr)
    return 1


def main(argv):
    if len(argv) < 3 or argv[1] not in ("fail", "state", "block", "clear"):
        print(__doc__, file=sys.stderr)
        return 2
    addr = target(argv[2])
    extra = int(argv[3]) if len(argv) > 3 else None
    if argv[1] == "fail":
        fail(addr, extra or 6)
        return 0
    if argv[1] == "state":
        kind, detail = state(addr)
        print(f"{kind} {detail}")
        return 0
    if argv[1] == "block":
        return block(addr, extra or 30)
    return clear(addr, extra or 90)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
