#!/usr/bin/env python3
"""Writes the seeds of the websocket_decoder fuzz target into seeds/websocket_decoder/.

Input layout (see `websocket_decoder` in protocol/src/fuzzing.rs): one byte picking the limits
(bits 0-2: max_frame, bits 3-5: max_message, each an index into
[0, 1, 125, 126, 300, 65535, 65536, 1 MiB]; all bits also make the mask of the re-encoding),
two bytes (little-endian) picking where the stream is split in two, then the client's bytes.
"""

import os
import struct

SIZES = [0, 1, 125, 126, 300, 65535, 65536, 1 << 20]
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])


def limits(max_frame, max_message):
    return SIZES.index(max_frame) | SIZES.index(max_message) << 3


DEFAULT = limits(1 << 20, 1 << 20)
SMALL = limits(125, 300)


def frame(fin, opcode, payload, mask=MASK, length=None, b0_extra=0):
    """A client frame; `length` forces a length encoding ("16" or "64")."""
    out = bytearray([(0x80 if fin else 0) | b0_extra | opcode])
    n = len(payload)
    if length == "64" or (length is None and n > 0xFFFF):
        out += bytes([0x80 | 127]) + struct.pack(">Q", n)
    elif length == "16" or (length is None and n > 125):
        out += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        out.append(0x80 | n)
    out += mask
    out += bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes(out)


def close(code, reason=b""):
    return struct.pack(">H", code) + reason


SEEDS = {
    # Section 5: messages, lengths, masks.
    "text_hello": (DEFAULT, 5, frame(1, 1, b"Hello")),
    "binary_300": (DEFAULT, 9, frame(1, 2, bytes(range(256)) + bytes(44))),
    "lengths_non_minimal": (
        DEFAULT,
        3,
        frame(1, 2, b"sixteen", length="16") + frame(1, 1, b"sixty-four", length="64"),
    ),
    "zero_mask_empty_frames": (DEFAULT, 1, frame(1, 1, b"", bytes(4)) + frame(1, 2, b"", bytes(4))),
    "fragments_cut_character_pings_between": (
        DEFAULT,
        17,
        frame(0, 1, "héllo wö".encode()[:-1])
        + frame(1, 9, b"ping!")
        + frame(0, 0, "ö".encode()[1:] + "rld €".encode()[:2], bytes([1, 2, 3, 4]))
        + frame(1, 10, b"unsolicited")
        + frame(1, 0, "€".encode()[2:] + "😀".encode()),
    ),
    "fragments_binary_empty_pieces": (
        DEFAULT,
        40,
        frame(0, 2, b"") + frame(0, 0, b"\x00\xff") + frame(0, 0, b"") + frame(1, 0, b"\x01"),
    ),
    "pings_latest_answered": (DEFAULT, 7, frame(1, 9, b"1") + frame(1, 9, b"22") + frame(1, 9, b"x" * 125)),
    # Section 7: closing.
    "close_with_reason_then_data": (
        DEFAULT,
        11,
        frame(1, 8, close(1000, "au revoir ✓".encode())) + frame(1, 1, b"ignored"),
    ),
    "close_empty": (DEFAULT, 2, frame(1, 9, b"p") + frame(1, 8, b"")),
    "close_1014_mid_message": (DEFAULT, 8, frame(0, 1, b"half") + frame(1, 8, close(1014))),
    "close_code_1005_refused": (DEFAULT, 4, frame(1, 8, close(1005))),
    "close_one_byte": (DEFAULT, 0, frame(1, 8, b"\x03")),
    "close_reason_not_utf8": (DEFAULT, 6, frame(1, 8, close(4000, b"\xc0\x80"))),
    # Section 5 faults.
    "rsv1_set": (DEFAULT, 1, frame(1, 1, b"x", b0_extra=0x40)),
    "reserved_opcode": (DEFAULT, 1, frame(1, 0xB, b"")),
    "unmasked": (DEFAULT, 1, bytes([0x81, 0x02]) + b"hi"),
    "control_over_125": (DEFAULT, 2, frame(1, 9, b"p" * 126)),
    "fragmented_ping": (DEFAULT, 2, frame(0, 9, b"p")),
    "continuation_alone": (DEFAULT, 3, frame(1, 0, b"lost")),
    "message_inside_message": (DEFAULT, 9, frame(0, 1, b"a") + frame(1, 2, b"b")),
    "length_top_bit": (DEFAULT, 4, bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1]) + MASK + b"\x00"),
    # Section 8: UTF-8.
    "utf8_overlong": (DEFAULT, 3, frame(1, 1, b"\xe0\x80\xaf")),
    "utf8_surrogate_across_fragments": (DEFAULT, 7, frame(0, 1, b"\xed") + frame(1, 0, b"\xa0\x80")),
    "utf8_above_10ffff": (DEFAULT, 5, frame(1, 1, b"\xf4\x90\x80\x80")),
    "utf8_cut_at_the_end": (DEFAULT, 5, frame(0, 1, b"ok \xe2\x82") + frame(1, 0, b"")),
    # Limits (small).
    "limit_frame_from_header": (SMALL, 2, frame(1, 2, b"z" * 126)),
    "limit_message_across_fragments": (
        SMALL,
        100,
        frame(0, 1, b"a" * 125) + frame(0, 0, b"b" * 125) + frame(1, 0, b"c" * 51),
    ),
    "limit_exact": (SMALL, 130, frame(0, 2, b"a" * 125) + frame(1, 9, b"p") + frame(0, 0, b"b" * 125) + frame(1, 0, b"c" * 50)),
    "limit_zero": (limits(0, 0), 0, frame(0, 1, b"") + frame(1, 0, b"") + frame(1, 9, b"")),
    "trickled_big_header": (DEFAULT, 2, frame(1, 2, b"", length="64")[:2] + struct.pack(">Q", 1 << 20) + MASK + b"partial"),
}


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "websocket_decoder")
    os.makedirs(out, exist_ok=True)
    for name, (pick, split, stream) in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([pick]) + struct.pack("<H", split) + stream)
    print(f"{len(SEEDS)} seeds in {out}")


if __name__ == "__main__":
    main()
