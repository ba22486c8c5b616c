"""Emits from python-socketio's write-only managers (RedisManager or KombuManager), as an
external process would with Flask-SocketIO's SocketIO(message_queue=...)."""

import sys

import socketio

kind, url, channel, skip_sid = sys.argv[1:5]
if kind == "redis":
    mgr = socketio.RedisManager(url, channel=channel, write_only=True)
else:
    mgr = socketio.KombuManager(url, channel=channel, write_only=True)
mgr.emit(f"py {kind} all", ({"hello": "from python"}, 2), namespace="/")
mgr.emit(f"py {kind} room", "blue", room="blue", namespace="/")
mgr.emit(f"py {kind} binary", (bytes([0, 1, 2, 253, 254, 255]), {"data": b"\x07"}), namespace="/")
mgr.emit(f"py {kind} skip", 1, skip_sid=skip_sid, namespace="/")
print(f"python {kind} manager published 4 emits", flush=True)
