"""A python-socketio server (aiohttp) sharing a message queue channel with sockio, through
Redis (AsyncRedisManager) or RabbitMQ (AsyncAioPikaManager): what sockio publishes must reach
its clients."""

import sys

import socketio
from aiohttp import web

kind, url, channel, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if kind == "redis":
    manager = socketio.AsyncRedisManager(url, channel=channel)
else:
    manager = socketio.AsyncAioPikaManager(url, channel=channel)
sio = socketio.AsyncServer(
    client_manager=manager,
    async_mode="aiohttp",
    cors_allowed_origins="*",
)
app = web.Application()
sio.attach(app)


@sio.event
async def whoami(sid):
    return {"process": "python", "sid": sid}


@sio.event
async def join(sid, room):
    await sio.enter_room(sid, room)


@sio.event
async def ask(sid, target):
    # An emit with a callback to a client that may be on another process (a sockio one):
    # python-socketio publishes it with `callback`, the answer comes back as a `callback`
    # message addressed to this process.
    return await sio.call("question", "ready?", to=target, timeout=10)


web.run_app(app, host="127.0.0.1", port=port, print=lambda *_: print(f"python server on {port}", flush=True))
