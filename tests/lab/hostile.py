#!/usr/bin/env python3
"""A broken / hostile device for the clinic lab (namespace cs-hostile, 10.77.20.66).

Every port misbehaves in one way a scanner's probe must survive: it must end by its
deadline and byte limit and report a probe error, never hang, crash or guess a fact.

  tcp/21    FTP greeting dripped one byte every 2 s, never finished (slow peer)
  tcp/22    endless non-SSH text lines, forever (banner flood)
  tcp/80    an HTTP 200 with an endless body (never-ending response, ~3 MB/s)
  tcp/443   accepts, then says nothing and never closes (silent peer)
  tcp/445   accepts and resets at once (RST)
  tcp/3389  1 KiB of random bytes, then closes (garbage)
  tcp/5900  "RFB 003.008\\n", then claims 255 security types and sends none (truncated)
  udp/161   answers any datagram with 64 random bytes (garbage)

Each connection is bounded here too (10 minutes, 1 GiB) so a stuck client cannot pin the
lab; standard library only.
"""

import asyncio
import os
import socket
import struct

CONN_MAX_S = 600
STREAM_MAX = 1 << 30


async def drip_ftp(reader, writer):
    for b in b"220 clinicscan lab slow FTP":
        writer.write(bytes([b]))
        await writer.drain()
        await asyncio.sleep(2)


async def flood_lines(reader, writer):
    sent, n = 0, 0
    while sent < STREAM_MAX:
        line = f"clinicscan lab banner flood line {n} -- not SSH\r\n".encode()
        writer.write(line)
        await writer.drain()
        sent += len(line)
        n += 1
        await asyncio.sleep(0.01)


async def endless_http(reader, writer):
    try:
        await asyncio.wait_for(reader.read(4096), 10)
    except asyncio.TimeoutError:
        pass
    writer.write(b"HTTP/1.1 200 OK\r\nServer: clinicscan-lab-hostile\r\nContent-Type: text/html\r\n\r\n<html>")
    chunk = b"A" * 16384
    sent = 0
    while sent < STREAM_MAX:
        writer.write(chunk)
        await writer.drain()
        sent += len(chunk)
        # about 3 MB/s: endless for any probe's deadline, cheap for a shared machine
        await asyncio.sleep(0.005)


async def silent(reader, writer):
    await asyncio.sleep(CONN_MAX_S)


async def reset(reader, writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def garbage(reader, writer):
    writer.write(os.urandom(1024))
    await writer.drain()


async def truncated_rfb(reader, writer):
    writer.write(b"RFB 003.008\n")
    await writer.drain()
    try:
        await asyncio.wait_for(reader.read(12), 10)
    except asyncio.TimeoutError:
        return
    writer.write(bytes([255]))  # 255 security types follow... and none do
    await writer.drain()
    await asyncio.sleep(CONN_MAX_S)


TCP = {21: drip_ftp, 22: flood_lines, 80: endless_http, 443: silent, 445: reset,
       3389: garbage, 5900: truncated_rfb}


def serve(handler):
    async def run(reader, writer):
        try:
            await asyncio.wait_for(handler(reader, writer), CONN_MAX_S)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass
        finally:
            writer.close()
    return run


class Garbage(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(os.urandom(64), addr)


async def main():
    servers = [await asyncio.start_server(serve(h), "0.0.0.0", port, reuse_address=True)
               for port, h in TCP.items()]
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Garbage, local_addr=("0.0.0.0", 161))
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main())
