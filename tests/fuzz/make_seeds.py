#!/usr/bin/env python3
"""make_seeds.py - writes the seed corpora of the 'frame' and 'server'
harnesses (corpus/frame, corpus/server): valid plumb frames built the way
docs/PROTOCOL.md describes them, and a few near misses.  Run it from this
directory after changing the protocol; its output is committed."""
import os
import struct

ECHO, DERIVED = 0x1e5c0001, 0x1e5c0002


def frame(kind, call_id, iface, op, text=b"", body=b"", status=0, ver=1,
          flags=0):
    hdr = b"PLMB" + struct.pack("<BBHIIIiHHI", ver, kind, flags, call_id,
                                iface, op, status, len(text), 0, len(body))
    return hdr + text + body


def stream(*frames):
    return b"".join(struct.pack("<I", len(f)) + f for f in frames)


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7f
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def pair(a, b):
    return b"\x08" + varint(a & 0xffffffffffffffff) + b"\x10" + varint(b)


def string(s):
    return b"\x0a" + varint(len(s)) + s


frames = {
    "add": frame(1, 1, ECHO, 0, b"t", pair(2, 3)),
    "add_default_object": frame(1, 2, ECHO, 0, b"", pair(-1, 1)),
    "div_by_zero": frame(1, 3, ECHO, 1, b"t", pair(7, 0)),
    "echo": frame(1, 4, ECHO, 2, b"t", string(b"hello")),
    "echo_fail": frame(1, 5, ECHO, 2, b"t", string(b"fail")),
    "note_oneway": frame(3, 6, ECHO, 3, b"t", pair(1, 0)),
    "nap_enoop": frame(1, 7, ECHO, 5, b"t", pair(1000, 1)),
    "mul_derived": frame(1, 8, DERIVED, 0, b"d", pair(6, 7)),
    "unknown_object": frame(1, 9, ECHO, 0, b"nobody", pair(1, 1)),
    "unknown_op": frame(1, 10, ECHO, 99, b"t", b""),
    "bad_version": frame(1, 11, ECHO, 0, b"t", pair(1, 1), ver=2),
    "reply_kind": frame(2, 12, ECHO, 0, b"", pair(1, 1)),
    "bad_body": frame(1, 13, ECHO, 0, b"t", b"\x0a\x05\x00"),
    # the call model (PROTOCOL.md 2.7): DEADLINE flag (remaining us in
    # status), CANCEL frames
    "add_deadline": frame(1, 15, ECHO, 0, b"t", pair(2, 3), status=500000,
                          flags=1),
    "add_deadline_past": frame(1, 16, ECHO, 0, b"t", pair(2, 3), status=0,
                               flags=1),
    "add_deadline_negative": frame(1, 17, ECHO, 0, b"t", pair(2, 3),
                                   status=-5, flags=1),
    "note_deadline": frame(3, 18, ECHO, 3, b"t", pair(1, 0), status=10,
                           flags=1),
    "cancel": frame(6, 1, 0, 0),
    "cancel_unknown": frame(6, 0xffffffff, ECHO, 0, b"t", b"x"),
    "unknown_fields": frame(1, 14, ECHO, 0, b"t",
                            b"\x1a\x03\x0a\x01\x00" + pair(1, 2) +
                            b"\x25\x00\x00\x00\x00"),
}
os.makedirs("corpus/frame", exist_ok=True)
os.makedirs("corpus/server", exist_ok=True)
for name, f in frames.items():
    open(f"corpus/frame/{name}", "wb").write(f)
    open(f"corpus/server/{name}", "wb").write(stream(f))
open("corpus/frame/stream_two", "wb").write(
    stream(frames["add"], frames["echo"]))
open("corpus/server/pipelined", "wb").write(
    stream(frames["add"], frames["note_oneway"], frames["div_by_zero"],
           frames["echo"]))
open("corpus/server/pipelined_cancel", "wb").write(
    stream(frames["note_oneway"], frames["add"], frames["cancel"],
           frames["add_deadline"], frame(6, 15, 0, 0),
           frames["add_deadline_past"], frames["echo"]))
open("corpus/server/half_frame", "wb").write(stream(frames["echo"])[:20])
open("corpus/server/huge_length", "wb").write(b"\xff\xff\xff\x7f" +
                                              frames["add"])
