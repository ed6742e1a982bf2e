#!/usr/bin/env python3
"""N concurrent POSTs, one per connection, all in flight at once (bench/io_wait).

wait_client.py URL AUTH_HEADER N: opens N connections to URL's host first (not timed), then sends
one POST with body {} on each and waits for every answer. Prints JSON: wall seconds from the
first send to the last answer, latency p50/p99/max, and the count of each status.
"""
import asyncio
import json
import resource
import sys
import time
from urllib.parse import urlsplit


async def main():
    url, auth, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    u = urlsplit(url)
    req = (f"POST {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n{auth}\r\n"
           "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}").encode()
    conns = []
    for i in range(0, n, 500):
        conns += await asyncio.gather(*[asyncio.open_connection(u.hostname, u.port)
                                        for _ in range(min(500, n - i))])
    statuses = {}
    latencies = []
    start = time.monotonic()

    async def one(reader, writer):
        t0 = time.monotonic()
        writer.write(req)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length)
        latencies.append(time.monotonic() - t0)
        key = str(status)
        if status == 200 and b'"status":"SUCCEEDED"' not in body:
            key = "200-failed"
        statuses[key] = statuses.get(key, 0) + 1
        writer.close()

    await asyncio.gather(*[one(r, w) for r, w in conns])
    wall = time.monotonic() - start
    latencies.sort()
    print(json.dumps({
        "concurrency": n,
        "wall_s": round(wall, 3),
        "p50_s": round(latencies[len(latencies) // 2], 3),
        "p99_s": round(latencies[int(len(latencies) * 0.99) - 1], 3),
        "max_s": round(latencies[-1], 3),
        "statuses": statuses,
    }))


asyncio.run(main())
