#!/usr/bin/env python3
"""Writes seeds/whole_server/*: `Scenario`s (sockio_protocol::fuzzing) in the byte layout of
`arbitrary` 1.x, one file per scenario below. Run it after changing `Scenario`, `Setup`, `Op` or
`BroadcastOp`, and check a seed with `cargo fuzz fmt -s none whole_server seeds/whole_server/F`.

The layout, as `arbitrary` 1.5 reads it (`Scenario::arbitrary_take_rest`):
- struct fields in order; the last field (`ops`) takes the rest of the input;
- `bool` is one byte (low bit), `u8` one byte, `u16` two bytes little-endian;
- `Option<T>` is a `bool` byte, then `T` when set;
- an enum variant is a little-endian `u32` `x`, variant `(x * count) >> 32`;
- `Vec<T>` is a "one more" `bool` byte before each element and a `0` after the last (the
  take-rest `Vec<Op>` stops at that `0` too);
- a `String` takes its length from the *end* of the remaining input: one byte while at most 256
  bytes remain, two (big-endian) while at most 65,537 remain; the bytes follow at the front.
"""
import base64
import os
import struct

VARIANTS = ["Handshake", "Get", "Post", "PostText", "RawHttp", "WsOpen", "WsText", "WsBinary",
            "Close", "Advance", "Emit", "Broadcast", "Join", "Leave", "CloseRoom", "Decide",
            "Disconnect", "CloseSession", "Shutdown", "WsBackpressure"]
METHODS = ["Get", "Post", "Options", "Other"]


def variant(index, count):
    """The smallest u32 that `arbitrary` maps to `index` of `count` variants."""
    x = -((-index << 32) // count)  # ceil(index * 2^32 / count)
    assert (x * count) >> 32 == index
    return struct.pack("<I", x)


class Writer:
    """Front bytes plus the strings whose lengths go at the end, in parse order."""

    def __init__(self):
        self.items = []  # bytes (front) or ("str", bytes)

    def raw(self, b):
        self.items.append(bytes(b))

    def boolean(self, v):
        self.raw([1 if v else 0])

    def u8(self, v):
        self.raw([v])

    def u16(self, v):
        self.raw(struct.pack("<H", v))

    def opt_u8(self, v):
        self.raw([0] if v is None else [1, v])

    def enum(self, names, name):
        self.raw(variant(names.index(name), len(names)))

    def byte_vec(self, data):
        for b in data:
            self.raw([1, b])
        self.raw([0])

    def string(self, s):
        self.items.append(("str", s.encode()))

    def finish(self):
        # Walk backwards to size each length field: when string k is parsed, what remains is
        # the front from k on plus the length fields of strings k.. (stored last-first at the end).
        fields = []  # (front_remaining_at_parse, data) for each string, in parse order
        front_after = 0
        for item in reversed(self.items):
            if isinstance(item, tuple):
                fields.append([front_after + len(item[1]), item[1]])
                front_after += len(item[1])
            else:
                front_after += len(item)
        fields.reverse()
        sizes = [0] * len(fields)
        tail = 0
        for k in range(len(fields) - 1, -1, -1):
            front_rem, _ = fields[k]
            for size in (1, 2):
                remaining = front_rem + tail + size
                limit = 256 if size == 1 else 65537
                if remaining <= limit:
                    sizes[k] = size
                    break
            else:
                raise ValueError("seed too large")
            tail += sizes[k]
        front = bytearray()
        lengths = []
        k = 0
        for item in self.items:
            if isinstance(item, tuple):
                data = item[1]
                size = sizes[k]
                remaining = fields[k][0] + sum(sizes[k:])
                max_len = remaining - size
                assert len(data) <= max_len
                lengths.append(len(data).to_bytes(size, "big"))
                front += data
                k += 1
            else:
                front += item
        return bytes(front) + b"".join(reversed(lengths))


def encode(setup, ops):
    w = Writer()
    w.boolean(setup.get("drop_slow", False))
    w.u8(setup.get("queue", 60))
    w.boolean(setup.get("cookie", False))
    w.boolean(setup.get("cors_any", False))
    for name, *fields in ops:
        w.raw([1])
        w.enum(VARIANTS, name)
        if name in ("Get", "Close", "CloseRoom", "Disconnect", "CloseSession"):
            w.u8(fields[0])
        elif name == "Post":
            w.u8(fields[0])
            w.byte_vec(fields[1])
        elif name in ("PostText", "WsText"):
            w.u8(fields[0])
            w.string(fields[1])
        elif name == "WsBinary":
            w.u8(fields[0])
            w.byte_vec(fields[1])
        elif name == "RawHttp":
            w.enum(METHODS, fields[0])
            w.boolean(fields[1])
            w.string(fields[2])
        elif name == "WsOpen":
            w.opt_u8(fields[0] if fields else None)
        elif name == "Advance":
            w.u16(fields[0])
        elif name == "Emit":
            w.u8(fields[0])
            w.boolean(fields[1])
            w.u8(fields[2])
        elif name == "Broadcast":
            b = fields[0] if fields else {}
            w.boolean(b.get("admin", False))
            w.opt_u8(b.get("to"))
            w.opt_u8(b.get("except"))
            w.opt_u8(b.get("skip"))
            w.boolean(b.get("volatile", False))
            w.boolean(b.get("binary", False))
        elif name in ("Join", "Leave"):
            w.u8(fields[0])
            w.u8(fields[1])
        elif name in ("Decide", "WsBackpressure"):
            w.u8(fields[0])
            w.boolean(fields[1])
        else:
            assert name in ("Handshake", "Shutdown"), name
    w.raw([0])
    return w.finish()


PH = '{"_placeholder":true,"num":%d}'
B64 = base64.b64encode(b"\xff\x00\x1e").decode()
# Sessions and sockets are picked modulo the live ones, WebSockets modulo the open ones.
SCENARIOS = {
    "ws_chat": ({}, [
        ("WsOpen",), ("WsText", 0, "40"), ("Join", 0, 1), ("WsText", 0, '42["chat","hi"]'),
        ("WsText", 0, '421["chat","ack?"]'), ("Emit", 0, True, 0), ("WsText", 0, "430[1]"),
        ("Broadcast", {"to": 1}), ("Advance", 350), ("WsText", 0, "3"), ("WsText", 0, "2"),
        ("Shutdown",)]),
    "polling_upgrade": ({}, [
        ("Handshake",), ("PostText", 0, "0"), ("Get", 0), ("Emit", 0, False, 0), ("Get", 0),
        ("Get", 0), ("WsOpen", 0), ("WsText", 0, "2probe"), ("WsText", 0, "5"),
        ("Emit", 0, False, 1), ("Broadcast",), ("Close", 5)]),
    "upgrade_with_data_during_probe": ({}, [
        ("Handshake",), ("PostText", 0, "0"), ("Get", 0), ("WsOpen", 0),
        ("WsText", 0, "2probe"), ("Emit", 0, True, 1), ("Get", 0), ("Emit", 0, False, 0),
        ("WsText", 0, "5"), ("WsText", 0, "430[]"), ("Advance", 200)]),
    "upgrade_timeout": ({}, [
        ("Handshake",), ("PostText", 0, "0"), ("Get", 0), ("Get", 0), ("WsOpen", 0),
        ("Advance", 600), ("WsOpen", 0), ("WsText", 0, "2probe"), ("WsText", 0, "4x"),
        ("Get", 0)]),
    "binary_websocket": ({}, [
        ("WsOpen",), ("WsText", 0, "40"), ("WsText", 0, '451-["up",' + (PH % 0) + ']'),
        ("WsBinary", 0, b"\x01\x02\x1e"), ("WsText", 0, '452-6["up",' + (PH % 0) + ',' + (PH % 1) + ']'),
        ("WsBinary", 0, b"\x03"), ("WsBinary", 0, b""), ("Emit", 0, True, 2),
        ("WsText", 0, '461-0[' + (PH % 0) + ']'), ("WsBinary", 0, b"\x09")]),
    "binary_polling": ({}, [
        ("Handshake",),
        ("Post", 0, ('40\x1e451-["u",' + (PH % 0) + ']\x1eb' + B64).encode()),
        ("Get", 0), ("Emit", 0, False, 2), ("Get", 0),
        ("PostText", 0, '51-6["u",' + (PH % 0) + ']'), ("Post", 0, b"bAQI="), ("Get", 0)]),
    "ack_timeout": ({}, [
        ("WsOpen",), ("WsText", 0, "40"), ("Emit", 0, True, 0), ("Emit", 0, True, 0),
        ("Advance", 150), ("WsText", 0, '427["e"]'), ("WsText", 0, "431[]"),
        ("Disconnect", 0), ("WsText", 0, "41"), ("WsText", 0, "40")]
        + [("Emit", 0, True, 0)] * 9),
    "ping_timeout": ({}, [
        ("Handshake",), ("PostText", 0, "0/admin,"), ("Get", 0), ("Advance", 301), ("Get", 0),
        ("Advance", 250), ("Get", 128), ("Post", 128, b"3")]),
    "heartbeat_ws": ({}, [
        ("WsOpen",), ("WsText", 0, "40"), ("Advance", 301), ("WsText", 0, "3"),
        ("Advance", 301), ("WsText", 0, "3"), ("WsText", 0, "2"), ("WsText", 0, "1")]),
    "raw_http": ({"cookie": True}, [
        ("RawHttp", "Get", False, "EIO=3&transport=polling"),
        ("RawHttp", "Post", False, "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA"),
        ("RawHttp", "Options", False, "EIO=4&transport=polling"),
        ("RawHttp", "Get", True, "EIO=4&transport=polling"),
        ("RawHttp", "Get", False, "EIO=4&transport=websocket"),
        ("RawHttp", "Other", False, "EIO=4&transport=polling"),
        ("RawHttp", "Post", False, "EIO=4&transport=polling"),
        ("Handshake",), ("Get", 0), ("Close", 9), ("Get", 0), ("Get", 0)]),
    "pending_then_decide": ({}, [
        ("Handshake",), ("PostText", 0, '0{"pending":1}'), ("Emit", 0, True, 0),
        ("Join", 0, 2), ("Join", 0, 4), ("Decide", 0, True), ("Get", 0),
        ("PostText", 0, '0/admin,{"reject":1}'), ("Get", 0), ("WsOpen",),
        ("WsText", 0, '40{"pending":1}'), ("WsText", 0, '40/admin,{"pending":1}'),
        ("Decide", 1, False), ("Advance", 1100)]),
    "slow_consumer": ({"queue": 0}, [
        ("Handshake",), ("PostText", 0, "0"), ("Get", 0), ("Emit", 0, False, 0),
        ("Emit", 0, False, 0), ("Emit", 0, False, 0), ("Emit", 0, False, 1),
        ("Emit", 0, False, 0), ("Broadcast",), ("Broadcast",), ("Broadcast",)]),
    "slow_consumer_drop": ({"queue": 0, "drop_slow": True}, [
        ("Handshake",), ("PostText", 0, "0"), ("Get", 0), ("Broadcast", {"volatile": True}),
        ("Broadcast",), ("Broadcast",), ("Broadcast",), ("Broadcast", {"binary": True}),
        ("Broadcast",), ("Get", 0)]),
    "blocked_websocket": ({"queue": 0}, [
        ("WsOpen",), ("WsText", 0, "40"), ("WsBackpressure", 0, True), ("Emit", 0, False, 0),
        ("Advance", 301), ("Emit", 0, True, 1), ("WsBackpressure", 0, False), ("WsText", 0, "3"),
        ("WsBackpressure", 0, True), ("Broadcast",), ("Broadcast",), ("Broadcast",),
        ("Broadcast",), ("Emit", 0, False, 0), ("Emit", 0, False, 0)]),
    "namespaces_and_rooms": ({}, [
        ("WsOpen",), ("WsText", 0, "40"), ("WsText", 0, "40/admin,"), ("WsOpen",),
        ("WsText", 1, "40"), ("Join", 0, 1), ("Join", 2, 1), ("Join", 2, 4),
        ("Broadcast", {"admin": True}), ("Broadcast", {"to": 1, "except": 4, "skip": 2}),
        ("Leave", 0, 1), ("CloseRoom", 1), ("WsText", 0, "41/admin,"), ("CloseSession", 1),
        ("WsText", 0, "40/a,"), ("WsText", 0, "40/b,"), ("WsText", 0, "40/c,"),
        ("WsText", 0, "40/d,")]),
    "parse_errors": ({}, [
        ("WsOpen",), ("WsText", 0, "40"), ("WsText", 0, "4x"), ("Handshake",),
        ("PostText", 0, "0"), ("Post", 0, b"9"), ("WsOpen",), ("WsText", 0, "40"),
        ("WsText", 0, '451-["a",' + (PH % 0) + ']'), ("WsText", 0, '42["b"]')]),
    "too_large": ({}, [
        ("WsOpen",), ("WsText", 0, "40"), ("WsText", 0, '42["x","' + "y" * 1030 + '"]'),
        ("Handshake",), ("PostText", 0, "0"), ("PostText", 0, '2["x","' + "z" * 1030 + '"]')]),
    "double_get": ({}, [
        ("Handshake",), ("PostText", 0, "0"), ("Get", 0), ("Get", 0), ("Get", 0), ("Get", 128)]),
    "shutdown_linger": ({}, [
        ("Handshake",), ("PostText", 0, "0"), ("Get", 0), ("Emit", 0, False, 0), ("Shutdown",),
        ("Get", 0), ("Handshake",), ("PostText", 0, "0"), ("Shutdown",), ("Advance", 250)]),
    # Bit 7 of `queue` turns connection state recovery on: a socket loses its WebSocket, comes
    # back with its pid and offset, loses it again, and comes back over polling without one.
    "recovery": ({"queue": 0x80 | 60}, [
        ("WsOpen",), ("WsText", 0, "40"), ("Join", 0, 1), ("Broadcast",), ("Emit", 0, False, 1),
        ("Close", 0), ("Broadcast", {"to": 1}), ("WsOpen",),
        ("WsText", 0, '40{"pid":"$pid","offset":"$offset"}'), ("Close", 1),
        ("Broadcast", {"binary": True}), ("Handshake",), ("PostText", 0, '0{"pid":"$pid"}'),
        ("Get", 0), ("Advance", 2100)]),
}

# Inputs that broke an invariant once; replayed by `fuzz/smoke` before fuzzing.
REGRESSIONS = {
    # The namespace entry of `/` outlived its last socket ("empty namespace kept").
    "empty_namespace_kept": ({}, [("Handshake",), ("PostText", 0, "0"), ("Disconnect", 0)]),
    # A pending socket joined its own sid's room, then was accepted ("room listed twice").
    "own_room_joined_while_pending": ({}, [
        ("Handshake",), ("PostText", 0, '0{"pending":1}'), ("Join", 0, 4), ("Decide", 0, True)]),
}


def write_all(out_dir, scenarios, clean):
    os.makedirs(out_dir, exist_ok=True)
    if clean:
        for old in os.listdir(out_dir):
            os.remove(os.path.join(out_dir, old))
    for name, (setup, ops) in scenarios.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(encode(setup, ops))


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    write_all(os.path.join(here, "seeds", "whole_server"), SCENARIOS, clean=True)
    write_all(os.path.join(here, "regressions", "whole_server"), REGRESSIONS, clean=False)
