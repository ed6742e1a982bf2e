#!/usr/bin/env python3
"""A local endpoint that answers every HTTP/1.1 request after DELAY seconds (bench/io_wait).

slow_endpoint.py PORT_FILE [DELAY]: listens on 127.0.0.1:0, writes its port to PORT_FILE, and
answers each request (any method and path) with 200 {"waited":true} after DELAY seconds (1.0),
keeping the connection open. asyncio: tens of thousands of waiting requests cost one thread.
"""
import asyncio
import resource
import sys


async def handle(reader, writer, delay):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            await asyncio.sleep(delay)
            body = b'{"waited":true}'
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main():
    port_file = sys.argv[1]
    delay = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    server = await asyncio.start_server(lambda r, w: handle(r, w, delay), "127.0.0.1", 0,
                                        backlog=16384)
    with open(port_file, "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]) + "\n")
    async with server:
        await server.serve_forever()


asyncio.run(main())
