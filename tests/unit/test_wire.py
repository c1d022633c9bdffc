"""Pure: the protobuf wire codec (builds.buildkit.wire) that trace, session and filesync share.
Expected bytes are the examples of the protobuf encoding guide
(https://protobuf.dev/programming-guides/encoding/) and of fsutil's int64 fields."""

from __future__ import annotations

import pytest

from docker_magics.builds.buildkit import wire


def test_the_encoding_guides_examples():
    # message Test1 { int32 a = 1; }, a = 150: "08 96 01"
    assert wire.int_field(1, 150) == bytes.fromhex("089601")
    # message Test2 { string b = 2; }, b = "testing": "12 07 74 65 73 74 69 6e 67"
    assert wire.bytes_field(2, "testing") == bytes.fromhex("120774657374696e67")
    # message Test3 { Test1 c = 3; }, c.a = 150: "1a 03 08 96 01"
    assert wire.message_field(3, wire.int_field(1, 150)) == bytes.fromhex("1a03089601")
    # int64 -2 is ten bytes (two's complement), not zigzag: "fe ff ff ff ff ff ff ff ff 01"
    assert wire.varint(-2) == bytes.fromhex("feffffffffffffffff01")


def test_zero_values_are_left_out_but_an_empty_message_is_not():
    assert wire.int_field(5, 0) == wire.bytes_field(1, b"") == wire.bytes_field(1, "") == b""
    assert wire.message_field(2, b"") == b"\x12\x00"


def test_fields_read_back_what_was_written():
    message = (
        wire.int_field(1, 1)
        + wire.bytes_field(2, "dir/ü")
        + wire.int_field(6, -1_700_000_000_123_456_789)
        + wire.message_field(10, wire.bytes_field(1, "k") + wire.bytes_field(2, b"\0v"))
        + b"\x3d\x01\x02\x03\x04"  # 7: fixed32
        + b"\x41" + bytes(range(8))  # 8: fixed64
    )  # fmt: skip
    got = list(wire.fields(message))
    assert [n for n, _ in got] == [1, 2, 6, 10, 7, 8]
    assert got[1][1] == "dir/ü".encode()
    assert wire.signed(got[2][1]) == -1_700_000_000_123_456_789
    assert dict(wire.fields(got[3][1])) == {1: b"k", 2: b"\0v"}
    assert got[4][1] == 0x04030201 and got[5][1] == int.from_bytes(bytes(range(8)), "little")
    assert wire.string(message, 2) == "dir/ü" and wire.string(message, 9) == ""


@pytest.mark.parametrize(
    "broken",
    [
        b"\x0a\x05abc",  # a string shorter than its length
        b"\x08\x80",  # a varint cut short
        b"\x08" + b"\xff" * 10 + b"\x01",  # a varint of more than 64 bits
        b"\x0b",  # wire type 3 (groups): not used by these messages
    ],
)
def test_malformed_messages_raise(broken):
    with pytest.raises((ValueError, IndexError)):
        list(wire.fields(broken))


def test_a_field_of_the_wrong_wire_type_is_a_malformed_message():
    # A string field that came as a number would be read as that many zero bytes
    # (bytes(5)); a number field that came as a string cannot be added up. Both are
    # ValueError, which the decoders' callers take as a malformed message.
    assert wire.as_int(5) == 5 and wire.as_bytes(b"ab") == b"ab"
    with pytest.raises(ValueError):
        wire.as_bytes(5)
    with pytest.raises(ValueError):
        wire.as_int(b"ab")
    with pytest.raises(ValueError):
        wire.string(wire.int_field(2, 3), 2)
