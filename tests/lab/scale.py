#!/usr/bin/env python3
"""The scale segment of the clinicscan lab (10.77.100.0/24), for benchmarks.

One namespace (cs-scale) owns every address of the segment that exists:
  10.77.100.10-49  answer: a few open TCP ports each (the rest closed: TCP RST)
  10.77.100.50-59  exist but drop everything (filtered)
  every other address: no host at all.
nftables in cs-scale decides per address which ports are open; one asyncio process
listens on every port of the pool and answers like a minimal service would.

  scale.py setup   addresses to add to eth0 (the namespace's first address is added by up)
  scale.py nft     the nftables ruleset
  scale.py ports   the listening ports
  scale.py truth   the ground truth as JSON (committed as ground-truth-scale.json)
  scale.py serve   run the listeners (foreground)
"""

import asyncio
import json
import random
import sys

NET = "10.77.100"
ANSWERING = range(10, 50)
FILTERED = range(50, 60)
POOL = [21, 22, 23, 80, 443, 445, 3389, 5900, 8080]
# How long a listener keeps a connection that says nothing, and how much it reads.
IDLE_S = 5
READ_MAX = 4096


def open_ports(last_octet):
    """The open TCP ports of one answering address (deterministic)."""
    i = last_octet - ANSWERING.start
    return sorted(random.Random(1000 + i).sample(POOL, 1 + i % 4))


def truth():
    hosts = []
    for o in ANSWERING:
        hosts.append({"address": f"{NET}.{o}", "state": "up", "tcp_open": open_ports(o)})
    for o in FILTERED:
        hosts.append({"address": f"{NET}.{o}", "state": "filtered", "tcp_open": []})
    return {
        "schema": "clinicscan-lab/scale-truth/v1",
        "cidr": f"{NET}.0/24",
        "zone": "scale",
        "reachable_from": ["general"],
        "tcp_ports_pool": POOL,
        "router": f"{NET}.1",
        "note": "answering hosts: listed ports open, every other TCP port closed (RST); "
        "filtered hosts: every port filtered, no ICMP; any other address: no host",
        "hosts": hosts,
    }


def nft():
    elems = ", ".join(f"{NET}.{o} . {p}" for o in ANSWERING for p in open_ports(o))
    return f"""table inet cs_scale
delete table inet cs_scale
table inet cs_scale {{
  set open_tcp {{ type ipv4_addr . inet_service; elements = {{ {elems} }} }}
  chain input {{
    type filter hook input priority 0; policy accept;
    iif lo accept
    ip daddr {NET}.{FILTERED.start}-{NET}.{FILTERED.stop - 1} drop
    ip daddr . tcp dport @open_tcp accept
    meta l4proto tcp reject with tcp reset
  }}
}}
"""


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


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "setup":
        for o in list(ANSWERING)[1:] + list(FILTERED):
            print(f"{NET}.{o}/24")
    elif cmd == "nft":
        sys.stdout.write(nft())
    elif cmd == "ports":
        print(" ".join(str(p) for p in POOL))
    elif cmd == "truth":
        print(json.dumps(truth(), indent=1))
    elif cmd == "serve":
        asyncio.run(serve())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
