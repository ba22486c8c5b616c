#!/usr/bin/env python3
"""Writes seeds/whole_server/*: `Vec<Op>` scenarios in the byte layout of `arbitrary` 1.x.

Layout (arbitrary's `take_rest` for a Vec): each element is preceded by a byte whose low bit
says "one more"; an enum variant is a little-endian u32 mapped to (u32 * variants) >> 32; u8,
bool, u16 are read from the front; a Vec<u8> is a "one more" byte before each byte and a 0 at
its end; the length of a String is read from the *end* of the remaining input (one byte while it
is at most 256 bytes long). Each seed stays under 256
bytes so lengths take one byte. Check one with `cargo fuzz fmt whole_server seeds/whole_server/F`.
"""
import base64
import os
import struct

VARIANTS = ["Handshake", "Get", "Post", "PostText", "RawHttp", "WsOpen", "WsText", "WsBinary",
            "Close", "Advance", "Emit", "Broadcast", "Join", "Disconnect", "Shutdown"]
STEP = (1 << 32) // len(VARIANTS) + 1


def encode(ops):
    front, backs = bytearray(), []
    for name, *fields in ops:
        front.append(1)
        front += struct.pack("<I", VARIANTS.index(name) * STEP)
        for f in fields:
            if isinstance(f, bool):
                front.append(int(f))
            elif isinstance(f, tuple) and f[0] == "u16":
                front += struct.pack("<H", f[1])
            elif isinstance(f, tuple) and f[0] == "opt":
                front += bytes([0]) if f[1] is None else bytes([1, f[1]])
            elif isinstance(f, int):
                front.append(f)
            elif isinstance(f, str):
                data = f.encode()
                backs.append(len(data))
                front += data
            else:
                for b in f:
                    front += bytes([1, b])
                front.append(0)
    out = bytes(front) + b"\x00" + bytes(reversed(backs))
    assert len(out) <= 256, (len(out), ops)
    return out


PH = '{"_placeholder":true,"num":0}'
SCENARIOS = {
    "ws_chat": [("WsOpen", ("opt", None)), ("WsText", 0, "40"), ("Join", 0, 1),
                ("WsText", 0, '42["chat","hi"]'), ("Emit", 0, True), ("Broadcast", ("opt", 1)),
                ("WsText", 0, "430[1]"), ("Advance", ("u16", 350)), ("WsText", 0, "3"),
                ("Shutdown",)],
    "polling_upgrade": [("Handshake",), ("PostText", 0, "0"), ("Get", 0), ("Emit", 0, False),
                        ("Get", 0), ("WsOpen", ("opt", 0)), ("WsText", 0, "2probe"),
                        ("WsText", 0, "5"), ("Broadcast", ("opt", None)), ("Close", 3)],
    "binary": [("WsOpen", ("opt", None)), ("WsText", 0, "40"),
               ("WsText", 0, "451-[\"up\"," + PH + "]"), ("WsBinary", 0, b"\x01\x02\x1e"),
               ("WsText", 0, "42[\"x\"]")],
    "binary_polling": [("Handshake",),
                       ("Post", 0, ("40\x1e451-[\"u\"," + PH + "]\x1eb"
                                    + base64.b64encode(b"\xff\x00").decode()).encode()),
                       ("Get", 0)],
    "ack_timeout": [("WsOpen", ("opt", None)), ("WsText", 0, "40"), ("Emit", 0, True),
                    ("Emit", 0, True), ("Advance", ("u16", 150)), ("WsText", 0, '427["e"]'),
                    ("Disconnect", 0), ("WsText", 0, "41")],
    "ping_timeout": [("Handshake",), ("PostText", 0, "0/admin,"), ("Get", 0),
                     ("Advance", ("u16", 301)), ("Get", 0), ("Advance", ("u16", 250)),
                     ("Get", 0), ("Post", 0, b"3")],
    "raw_http": [("RawHttp", False, "EIO=3&transport=polling"),
                 ("RawHttp", True, "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA"),
                 ("RawHttp", False, "EIO=4&transport=websocket"), ("Handshake",),
                 ("Close", 3), ("Get", 0), ("Close", 5)],
}

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = os.path.join(here, "seeds", "whole_server")
    os.makedirs(out_dir, exist_ok=True)
    for name, ops in SCENARIOS.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(encode(ops))
