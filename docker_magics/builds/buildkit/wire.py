"""Pure: the protobuf wire format, as much of it as BuildKit's messages need, both ways.

The build's progress (``trace``), the session's small calls (``session``) and the file sync's
packets (``filesync``) are a few small messages each: varints and length-delimited fields
(https://protobuf.dev/programming-guides/encoding/). A few lines here rather than the
``protobuf`` package: a generated module would pin a protobuf runtime version (a common
source of conflicts in data-science environments), and this part of the format is stable.

Proto3 leaves zero values out: the encoders below return ``b""`` for them, so a message is
the concatenation of its fields' encodings.
"""

from __future__ import annotations

from collections.abc import Iterator

_MASK64 = (1 << 64) - 1
# The one-byte varints, ready made: most numbers in these messages are small.
_SMALL = [bytes((n,)) for n in range(0x80)]


def varint(n: int) -> bytes:
    """An unsigned varint; a negative ``n`` (an int64 field) as its two's complement, in
    ten bytes, as protobuf encodes negative int64 values."""
    if 0 <= n < 0x80:
        return _SMALL[n]
    n &= _MASK64
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def key(number: int, wire_type: int) -> bytes:
    """A field's key: its number and wire type (0: varint, 2: length-delimited)."""
    return varint(number << 3 | wire_type)


def int_field(number: int, value: int) -> bytes:
    """A varint field (int32/int64/uint32/enum/bool); ``b""`` for zero."""
    return key(number, 0) + varint(value) if value else b""


def bytes_field(number: int, value: bytes | str) -> bytes:
    """A length-delimited field (string, bytes, or an encoded message); ``b""`` when empty.
    Strings are UTF-8."""
    data = value.encode() if isinstance(value, str) else value
    return key(number, 2) + varint(len(data)) + data if data else b""


def message_field(number: int, message: bytes) -> bytes:
    """A nested message field, present even when the message is empty (all its fields zero):
    unlike a string, an empty message is not the same as no message."""
    return key(number, 2) + varint(len(message)) + message


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos``: ``(value, position after it)``."""
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """``(field number, value)`` for each field: ints for varints and fixed-size values,
    bytes for length-delimited ones (strings, bytes, nested messages). Raises ValueError
    (or IndexError) on a malformed message."""
    pos, end = 0, len(buf)
    while pos < end:
        k, pos = read_varint(buf, pos)
        number, wire = k >> 3, k & 7
        value: int | bytes
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire == 2:
            length, pos = read_varint(buf, pos)
            value = buf[pos : pos + length]
            if len(value) != length:
                raise ValueError("truncated field")
            pos += length
        elif wire == 1:
            value = int.from_bytes(buf[pos : pos + 8], "little")
            pos += 8
        elif wire == 5:
            value = int.from_bytes(buf[pos : pos + 4], "little")
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, value


def as_int(value: int | bytes) -> int:
    """A varint or fixed-size field's value, from ``fields``; ValueError (a malformed
    message) when the field came length-delimited."""
    if isinstance(value, int):
        return value
    raise ValueError("a number field came length-delimited")


def as_bytes(value: int | bytes) -> bytes:
    """A length-delimited field's value (string, bytes, nested message), from ``fields``;
    ValueError (a malformed message) when the field came as a number."""
    if isinstance(value, int):
        raise ValueError("a length-delimited field came as a number")
    return value


def signed(value: int) -> int:
    """An int64 field's value read as an unsigned varint, back to its sign."""
    return value - (1 << 64) if value >= 1 << 63 else value


def string(message: bytes, number: int) -> str:
    """The first string field ``number`` of ``message`` ("" when absent)."""
    return next((as_bytes(v).decode() for n, v in fields(message) if n == number), "")
