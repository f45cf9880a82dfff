#!/usr/bin/env python3
"""The scale segment of the clinicscan lab (10.77.100.0/24), for benchmarks.

It sits behind the lab router (cs-router: nftables with connection tracking, as the router
of a real clinic), and holds what a clinic's subnet holds:
  10.77.100.1      the router's own address: answers ping from general, drops every TCP
                   port (a router address)
  10.77.100.10-49  answer: a few open TCP ports each (the rest closed: TCP RST)
  10.77.100.50-59  exist but drop everything (filtered)
  10.77.100.60-65  answer ping but drop every TCP port (Windows PCs with their firewall on)
  10.77.100.70-73  answer late: a few open ports each, every answer delayed 150-400 ms (tc
                   netem on the host's own interface: a busy or distant device)
  every other address: no host at all.
One namespace (cs-scale) owns the prompt addresses; each late host has a namespace of its
own (cs-late70 ...), since a delay applies to a whole interface. nftables in each decides
per address which ports are open; one asyncio process per namespace listens on every port
of the pool and answers like a minimal service would.

  scale.py setup          addresses to add to cs-scale's eth0 (up adds the first one)
  scale.py nft            cs-scale's nftables ruleset
  scale.py late           the late hosts: "name address delay_ms", one a line
  scale.py nft-late ADDR  a late host's nftables ruleset
  scale.py ports          the listening ports
  scale.py truth          the ground truth as JSON (committed as ground-truth-scale.json)
  scale.py serve          run the listeners (foreground)
  scale.py delay MS       hold every packet of NFQUEUE 0 for MS milliseconds (foreground)

A late host's delay: every packet its namespace sends (SYN-ACK, RST, echo reply) is queued
to user space by `iptables -A OUTPUT -j NFQUEUE` and released MS milliseconds later by
`scale.py delay` (tc netem would do it in the kernel, but not every kernel has sch_netem;
NFQUEUE is in every distribution kernel). The kernel's own stack still answers; only when.
"""

import asyncio
import collections
import json
import random
import select
import socket
import struct
import sys
import time

NET = "10.77.100"
ROUTER = 1
ANSWERING = range(10, 50)
FILTERED = range(50, 60)
PING_ONLY = range(60, 66)
# late host -> delay of everything it sends, in ms
LATE = {70: 150, 71: 250, 72: 350, 73: 400}
POOL = [21, 22, 23, 80, 443, 445, 3389, 5900, 8080]
# How long a listener keeps a connection that says nothing, and how much it reads.
IDLE_S = 5
READ_MAX = 4096


def open_ports(last_octet):
    """The open TCP ports of one answering or late address (deterministic)."""
    i = last_octet - ANSWERING.start
    return sorted(random.Random(1000 + i).sample(POOL, 1 + i % 4))


def truth():
    hosts = [{"address": f"{NET}.{ROUTER}", "state": "ping-only", "role": "router", "tcp_open": []}]
    for o in ANSWERING:
        hosts.append({"address": f"{NET}.{o}", "state": "up", "tcp_open": open_ports(o)})
    for o in FILTERED:
        hosts.append({"address": f"{NET}.{o}", "state": "filtered", "tcp_open": []})
    for o in PING_ONLY:
        hosts.append({"address": f"{NET}.{o}", "state": "ping-only", "tcp_open": []})
    for o, delay in LATE.items():
        hosts.append({"address": f"{NET}.{o}", "state": "up", "delay_ms": delay,
                      "tcp_open": open_ports(o)})
    return {
        "schema": "clinicscan-lab/scale-truth/v2",
        "cidr": f"{NET}.0/24",
        "zone": "scale",
        "reachable_from": ["general"],
        "tcp_ports_pool": POOL,
        "router": f"{NET}.{ROUTER}",
        "note": "up: listed ports open, every other TCP port closed (RST), answers delayed by "
        "delay_ms where given; filtered: every packet dropped, no ICMP; ping-only: answers ICMP "
        "echo, drops every TCP port (the router's own address, firewalled PCs); any other "
        "address: no host. Behind the lab router (nftables, conntrack).",
        "hosts": hosts,
    }


def ruleset(addresses, filtered=(), ping_only=()):
    """nftables for one namespace: the listed addresses' open ports accept, every other TCP
    port resets; filtered addresses drop everything, ping-only ones answer only echo."""
    elems = ", ".join(f"{NET}.{o} . {p}" for o in addresses for p in open_ports(o))
    rules = []
    if filtered:
        rules.append(f"ip daddr {NET}.{filtered.start}-{NET}.{filtered.stop - 1} drop")
    if ping_only:
        span = f"{NET}.{ping_only.start}-{NET}.{ping_only.stop - 1}"
        rules.append(f"ip daddr {span} icmp type echo-request accept")
        rules.append(f"ip daddr {span} drop")
    body = "".join(f"    {r}\n" for r in rules)
    return f"""table inet cs_scale
delete table inet cs_scale
table inet cs_scale {{
  set open_tcp {{ type ipv4_addr . inet_service; elements = {{ {elems} }} }}
  chain input {{
    type filter hook input priority 0; policy accept;
    iif lo accept
{body}    ip daddr . tcp dport @open_tcp accept
    meta l4proto tcp reject with tcp reset
  }}
}}
"""


def nft():
    return ruleset(ANSWERING, FILTERED, PING_ONLY)


def late_name(o):
    return f"late{o}"


GREETING = {
    21: b"220 clinicscan lab scale FTP\r\n",
    22: b"SSH-2.0-OpenSSH_9.2p1 cslab-scale\r\n",
    23: b"\r\nscale login: ",
    5900: b"RFB 003.008\n",
}


async def handle(port, reader, writer):
    try:
        if port in GREETING:
            writer.write(GREETING[port])
            await writer.drain()
        if port in (80, 8080):
            data = b""
            while b"\r\n\r\n" not in data and len(data) < READ_MAX:
                chunk = await asyncio.wait_for(reader.read(READ_MAX), IDLE_S)
                if not chunk:
                    break
                data += chunk
            body = b"<!doctype html><title>clinicscan lab scale</title>"
            writer.write(
                b"HTTP/1.0 200 OK\r\nServer: cslab-scale\r\nContent-Type: text/html\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            await writer.drain()
        else:
            await asyncio.wait_for(reader.read(READ_MAX), IDLE_S)
    except (asyncio.TimeoutError, ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def serve():
    servers = []
    for port in POOL:
        servers.append(
            await asyncio.start_server(
                lambda r, w, p=port: handle(p, r, w), host="0.0.0.0", port=port, backlog=512,
                reuse_address=True,
            )
        )
    await asyncio.gather(*(s.serve_forever() for s in servers))


# nfnetlink_queue (linux/netfilter/nfnetlink_queue.h), spoken over a raw netlink socket.
NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_CONFIG, NFQNL_MSG_VERDICT_BATCH = 0, 2, 3
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
QUEUE = 0
# Packets held at once: a full-port scan answers 65,535 times, all within the delay.
QUEUE_MAXLEN = 1 << 20


def nl_attr(kind, payload):
    pad = (4 - len(payload) % 4) % 4
    return struct.pack("=HH", 4 + len(payload), kind) + payload + b"\0" * pad


def nl_msg(msg, body, flags=NLM_F_REQUEST):
    # nfgenmsg: family unspec, version 0, the queue number (big-endian)
    payload = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(QUEUE)) + body
    return struct.pack("=IHHII", 16 + len(payload), (NFNL_SUBSYS_QUEUE << 8) | msg, flags, 0, 0) + payload


def hold_packets(ms):
    """Releases every queued packet `ms` after it was queued, in order (one batch verdict
    accepts every packet up to an id; with one delay for all, ids come due in order)."""
    hold = ms / 1000.0
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    sock.bind((0, 0))
    config = [
        nl_attr(NFQA_CFG_CMD, struct.pack("=BBH", NFQNL_CFG_CMD_BIND, 0, 0)),
        nl_attr(NFQA_CFG_PARAMS, struct.pack(">IB", 0, NFQNL_COPY_META)),
        nl_attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack(">I", QUEUE_MAXLEN)),
    ]
    for attr in config:
        sock.send(nl_msg(NFQNL_MSG_CONFIG, attr, NLM_F_REQUEST | NLM_F_ACK))
        length, kind, _, _, _, err = struct.unpack("=IHHIIi", sock.recv(65536)[:20])
        if kind == NLMSG_ERROR and err != 0:
            sys.exit(f"scale.py delay: nfqueue config refused: {-err}")
    held = collections.deque()
    while True:
        timeout = max(0.0, held[0][1] + hold - time.monotonic()) if held else None
        ready, _, _ = select.select([sock], [], [], timeout)
        now = time.monotonic()
        if ready:
            # drain what is there without blocking
            while True:
                try:
                    data = sock.recv(65536, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                off = 0
                while off + 16 <= len(data):
                    length, kind = struct.unpack_from("=IH", data, off)
                    if length < 16:
                        break
                    if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                        a = off + 20
                        while a + 4 <= off + length:
                            alen, akind = struct.unpack_from("=HH", data, a)
                            if alen < 4:
                                break
                            if akind & 0x7FFF == NFQA_PACKET_HDR:
                                held.append((struct.unpack_from(">I", data, a + 4)[0], now))
                                break
                            a += (alen + 3) & ~3
                    off += (length + 3) & ~3
        last = None
        while held and held[0][1] + hold <= now:
            last = held.popleft()[0]
        if last is not None:
            sock.send(nl_msg(NFQNL_MSG_VERDICT_BATCH,
                             nl_attr(NFQA_VERDICT_HDR, struct.pack(">II", NF_ACCEPT, last))))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "setup":
        for o in list(ANSWERING)[1:] + list(FILTERED) + list(PING_ONLY):
            print(f"{NET}.{o}/24")
    elif cmd == "nft":
        sys.stdout.write(nft())
    elif cmd == "late":
        for o, delay in LATE.items():
            print(f"{late_name(o)} {NET}.{o} {delay}")
    elif cmd == "nft-late" and len(sys.argv) > 2:
        o = int(sys.argv[2].rsplit(".", 1)[-1])
        if o not in LATE:
            sys.exit(f"scale.py: {sys.argv[2]} is not a late host")
        sys.stdout.write(ruleset([o]))
    elif cmd == "ports":
        print(" ".join(str(p) for p in POOL))
    elif cmd == "truth":
        print(json.dumps(truth(), indent=1))
    elif cmd == "serve":
        asyncio.run(serve())
    elif cmd == "delay" and len(sys.argv) > 2:
        hold_packets(int(sys.argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
