"""python-socketio's client with `serializer='msgpack'` against the conformance server started
with `--msgpack` (SocketIoBuilder::parser(Parser::MsgPack)).

Run by conformance/run with the venv's interpreter; prints one line per case as
test_socketio.py does.
"""

import sys
import time

from test_socketio import WAIT, Client, Server, main

CASES = []


def for_each_transport(name):
    def register(fn):
        for t in ("polling", "websocket"):
            CASES.append(("msgpack %s: %s" % (t, name), lambda server, t=t: fn(server, t)))
        return fn

    return register


def client(server, t, **kw):
    return Client(server, t, serializer="msgpack", **kw)


@for_each_transport("connects with its auth, arguments come back")
def _(server, t):
    c = client(server, t, auth={"token": "py", "n": [1, 2.5]})
    try:
        assert c.next("auth") == [{"token": "py", "n": [1, 2.5]}]
        me = c.sio.call("whoami", timeout=WAIT)
        assert me == {"sid": c.sio.get_sid("/"), "namespace": "/"}, me
        sent = [
            ("hello",),
            ("utf-8: été ✓",),
            ({"a": 1, "b": [True, None, "x"]},),
            (1, "two", {"three": 3}, [4], -7, 0.5),
        ]
        for args in sent:
            c.sio.emit("message", args if len(args) > 1 else args[0])
        for args in sent:
            got = c.next("message-back")
            assert got == list(args), (got, args)
    finally:
        c.close()


@for_each_transport("binary both ways, alone and nested, inline in the packet")
def _(server, t):
    c = client(server, t)
    try:
        c.next("auth")
        args = (b"\x00\x01\xff", {"nested": b"\x02", "list": [b"\x03", "x", {"deep": b""}]})
        c.sio.emit("message", args)
        got = c.next("message-back")
        assert got == list(args), got
        c.sio.emit("binary")
        first, nested = c.next("binary-back")
        assert first == b"\x00\x01\x02\xff"
        assert nested["data"] == b"\x03\x04"
        assert nested["list"][0] == b"\x05" and nested["list"][2]["deep"] == b"\x06\x07\x08"
        assert c.sio.call("message-with-ack", b"\x07\x07", timeout=WAIT) == b"\x07\x07"
    finally:
        c.close()


@for_each_transport("acks both ways")
def _(server, t):
    def answer(*args):
        return {"got": list(args)}, "second"

    c = client(server, t, answer={"emit-with-ack": answer})
    try:
        c.next("auth")
        got = c.sio.call("emit-with-ack", ("q", b"\x01"), timeout=WAIT)
        assert got == ({"got": ["q", b"\x01"]}, "second"), got
    finally:
        c.close()


@for_each_transport("rooms and broadcasts; a refused namespace")
def _(server, t):
    a = client(server, t)
    b = client(server, t)
    try:
        a.next("auth")
        b.next("auth")
        a.sio.call("join", "r", timeout=WAIT)
        b.sio.emit("to-room", ("r", "hi", b"\x05"))
        assert a.next("room-message") == ["hi", b"\x05"]
        a.sio.emit("broadcast", {"n": 1})
        assert b.next("broadcast-message") == [{"n": 1}]
        b.barrier()
        b.none("room-message")
    finally:
        a.close()
        b.close()
    try:
        client(server, t, namespaces=("/nowhere",))
        raise AssertionError("connected to a namespace nobody serves")
    except Exception as e:  # noqa: BLE001 - python-socketio raises ConnectionError
        assert "Invalid namespace" in str(e) or "One or more namespaces failed" in str(e), e
    time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main(Server("--msgpack"), CASES, "python/test_msgpack.py"))
