"""Bitstream packets: MTU-bounded, self-describing, CRC-32 checked.

Wire format of one packet (version 1)::

    magic         2 bytes   b"SK"
    version       1 byte    1
    codec_id      1 byte    the codec's wire id (see ``spikesat.codecs.registry``)
    example_id    varint    unsigned LEB128
    packet_index  varint    0 .. packet_count - 1
    packet_count  varint    >= 1
    payload_len   varint    bytes of payload that follow
    payload       payload_len bytes
    crc32         4 bytes   big-endian CRC-32 (zlib polynomial) of every byte before it

A :class:`Bitstream` is the list of packets of one example. ``to_bytes()`` concatenates them, so
``len(bitstream.to_bytes())`` is the true number of bytes on the wire, headers and CRCs included.
Reading back verifies every packet: a missing, corrupted, duplicated-but-different or foreign
packet is reported by :meth:`Bitstream.check` and makes :meth:`Bitstream.payload` raise.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

MAGIC = b"SK"
"""First two bytes of every packet."""

VERSION = 1
"""The packet format version this module writes and reads."""

CRC_BYTES = 4
"""Size of the CRC-32 trailer [bytes]."""

MIN_MTU_BYTES = 32
"""Smallest MTU a codec accepts [bytes]: the largest header plus a useful payload."""

DEFAULT_MTU_BYTES = 1500
"""Default MTU [bytes] (an Ethernet / IP datagram)."""

_MAX_VARINT_BYTES = 5  # values < 2**35, far above any count or length here


def encode_varint(value: int) -> bytes:
    """Encode a non-negative integer as unsigned LEB128."""
    if value < 0:
        raise ValueError(f"a varint must be >= 0, got {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes, offset: int) -> tuple[int, int]:
    """Decode an unsigned LEB128 integer at ``offset``; return ``(value, next_offset)``.

    Raises
    ------
    ValueError
        If the data ends inside the varint or it is longer than 5 bytes.
    """
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if offset + i >= len(data):
            raise ValueError(f"truncated varint at byte {offset}")
        byte = data[offset + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, offset + i + 1
    raise ValueError(f"varint at byte {offset} is longer than {_MAX_VARINT_BYTES} bytes")


def _header(codec_id: int, example_id: int, index: int, count: int, length: int) -> bytes:
    return b"".join(
        [
            MAGIC,
            bytes([VERSION, codec_id]),
            encode_varint(example_id),
            encode_varint(index),
            encode_varint(count),
            encode_varint(length),
        ]
    )


@dataclass(frozen=True)
class Packet:
    """One packet as received: its raw bytes and the header fields parsed from them.

    Build packets with :meth:`Bitstream.from_payload`; read them with :meth:`Packet.from_bytes`.
    The fields come from the bytes and are only trustworthy when :attr:`crc_ok` is True.
    """

    raw: bytes
    version: int
    codec_id: int
    example_id: int
    index: int
    count: int
    payload: bytes

    @property
    def crc_ok(self) -> bool:
        """Whether the CRC-32 trailer matches the bytes before it."""
        body, trailer = self.raw[:-CRC_BYTES], self.raw[-CRC_BYTES:]
        return zlib.crc32(body) == int.from_bytes(trailer, "big")

    @property
    def num_bytes(self) -> int:
        """Size on the wire [bytes], header and CRC included."""
        return len(self.raw)

    def to_bytes(self) -> bytes:
        """The packet's wire bytes."""
        return self.raw

    @classmethod
    def build(
        cls, payload: bytes, *, codec_id: int, example_id: int, index: int, count: int
    ) -> Packet:
        """Frame ``payload`` as one packet with a fresh CRC-32."""
        body = _header(codec_id, example_id, index, count, len(payload)) + payload
        raw = body + zlib.crc32(body).to_bytes(CRC_BYTES, "big")
        return cls(raw, VERSION, codec_id, example_id, index, count, payload)

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> tuple[Packet, int]:
        """Parse one packet starting at ``offset``; return it and the offset after it.

        The CRC is not checked here (see :attr:`crc_ok`), so a corrupted packet can still be
        located, counted and reported.

        Raises
        ------
        ValueError
            If the bytes do not frame a packet: bad magic, a version this code does not read,
            a broken varint, or fewer bytes than the header declares (truncation).
        """
        if data[offset : offset + 2] != MAGIC:
            raise ValueError(
                f"bad magic {bytes(data[offset : offset + 2])!r} at byte {offset}: expected "
                f"{MAGIC!r} (not a spikesat packet, or corrupted)"
            )
        if offset + 4 > len(data):
            raise ValueError(f"truncated packet header at byte {offset}")
        version, codec_id = data[offset + 2], data[offset + 3]
        if version != VERSION:
            raise ValueError(
                f"unknown bitstream version {version} at byte {offset}: this spikesat reads "
                f"version {VERSION} (upgrade spikesat, or the packet is corrupted)"
            )
        pos = offset + 4
        example_id, pos = decode_varint(data, pos)
        index, pos = decode_varint(data, pos)
        count, pos = decode_varint(data, pos)
        length, pos = decode_varint(data, pos)
        end = pos + length + CRC_BYTES
        if end > len(data):
            raise ValueError(
                f"truncated packet at byte {offset}: it declares {length} payload bytes plus a "
                f"{CRC_BYTES}-byte CRC but only {len(data) - pos} bytes remain"
            )
        raw = bytes(data[offset:end])
        payload = bytes(data[pos : pos + length])
        return cls(raw, version, codec_id, example_id, index, count, payload), end

    @classmethod
    def from_bytes(cls, data: bytes) -> Packet:
        """Read exactly one packet from ``data``.

        Raises
        ------
        ValueError
            If ``data`` is not exactly one well-framed packet (see :meth:`parse`).
        """
        packet, end = cls.parse(bytes(data))
        if end != len(data):
            raise ValueError(f"{len(data) - end} trailing bytes after the packet")
        return packet


@dataclass(frozen=True)
class BitstreamCheck:
    """What verifying a bitstream found.

    Attributes
    ----------
    ok : bool
        Every packet present, CRC-valid, consistent and of the expected codec.
    reason : str
        Empty when ``ok``; otherwise why not, in words.
    example_id : int or None
        The example id the valid packets agree on (None when none is valid).
    num_packets_expected : int or None
        The packet count the valid packets declare.
    missing : list of int
        Packet indices never received intact.
    num_corrupted : int
        Packets whose CRC failed or whose bytes could not be framed.
    num_duplicates : int
        Identical copies of a packet received more than once (harmless, dropped).
    """

    ok: bool
    reason: str
    example_id: int | None
    num_packets_expected: int | None
    missing: list[int] = field(default_factory=list)
    num_corrupted: int = 0
    num_duplicates: int = 0


class Bitstream:
    """The packets of one example's compressed features.

    Parameters
    ----------
    packets : sequence of Packet
        In any order; duplicates and corrupted packets are allowed (they are reported).
    num_unframed_bytes : int
        Bytes that :meth:`from_bytes` could not frame as a packet (counted as corruption).
    """

    def __init__(self, packets: list[Packet] | tuple[Packet, ...], num_unframed_bytes: int = 0):
        self.packets = list(packets)
        self.num_unframed_bytes = int(num_unframed_bytes)

    @classmethod
    def from_payload(
        cls,
        payload: bytes,
        *,
        codec_id: int,
        example_id: int,
        mtu_bytes: int = DEFAULT_MTU_BYTES,
    ) -> Bitstream:
        """Split ``payload`` into packets of at most ``mtu_bytes`` each, headers included.

        Raises
        ------
        ValueError
            If ``mtu_bytes`` is below :data:`MIN_MTU_BYTES` or an id is out of range.
        """
        if not isinstance(mtu_bytes, int) or mtu_bytes < MIN_MTU_BYTES:
            raise ValueError(f"mtu_bytes must be an int >= {MIN_MTU_BYTES}, got {mtu_bytes!r}")
        if not 0 <= codec_id <= 255:
            raise ValueError(f"codec_id must be in 0..255, got {codec_id}")
        if example_id < 0:
            raise ValueError(f"example_id must be >= 0, got {example_id}")
        # Worst-case header for this example: index, count and length each as a 5-byte varint.
        overhead = len(MAGIC) + 2 + len(encode_varint(example_id)) + 3 * _MAX_VARINT_BYTES
        capacity = mtu_bytes - overhead - CRC_BYTES
        chunks = [payload[i : i + capacity] for i in range(0, len(payload), capacity)] or [b""]
        return cls(
            [
                Packet.build(
                    chunk, codec_id=codec_id, example_id=example_id, index=i, count=len(chunks)
                )
                for i, chunk in enumerate(chunks)
            ]
        )

    @property
    def num_bytes(self) -> int:
        """Bytes on the wire: ``len(self.to_bytes())``."""
        return sum(p.num_bytes for p in self.packets) + self.num_unframed_bytes

    @property
    def num_packets(self) -> int:
        """Packets held (duplicates and corrupted ones included)."""
        return len(self.packets)

    def to_bytes(self) -> bytes:
        """The concatenated wire bytes of every packet, in the order held."""
        if self.num_unframed_bytes:
            raise ValueError(
                f"this bitstream holds {self.num_unframed_bytes} unframed (corrupted) bytes that "
                "were not kept; it cannot be re-serialised"
            )
        return b"".join(p.raw for p in self.packets)

    @classmethod
    def from_bytes(cls, data: bytes, strict: bool = True) -> Bitstream:
        """Read packets back from concatenated wire bytes.

        Parameters
        ----------
        data : bytes
            The output of :meth:`to_bytes` (possibly damaged).
        strict : bool
            True (default): any framing error (bad magic, unknown version, truncation) raises.
            False: skip to the next plausible packet start and count the skipped bytes as
            corruption, so :meth:`check` reports the damage instead.

        Raises
        ------
        ValueError
            In strict mode, on the first framing error, naming the byte offset.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        data = bytes(data)
        packets: list[Packet] = []
        offset, unframed = 0, 0
        while offset < len(data):
            try:
                packet, offset = Packet.parse(data, offset)
                packets.append(packet)
            except ValueError:
                if strict:
                    raise
                nxt = data.find(MAGIC, offset + 1)
                nxt = len(data) if nxt < 0 else nxt
                unframed += nxt - offset
                offset = nxt
        if not packets and not unframed:
            raise ValueError("empty bitstream: no bytes to read")
        return cls(packets, num_unframed_bytes=unframed)

    def check(self, codec_id: int | None = None) -> BitstreamCheck:
        """Verify every packet: CRC, one example id, a consistent count, no gaps, the codec.

        Parameters
        ----------
        codec_id : int, optional
            The wire id the decoder expects; a packet of another codec fails the check.
        """
        valid = [p for p in self.packets if p.crc_ok]
        num_corrupted = len(self.packets) - len(valid) + (1 if self.num_unframed_bytes else 0)
        if not valid:
            reason = (
                f"no intact packet: {num_corrupted} corrupted packet(s) failed the CRC-32 check"
                if num_corrupted
                else "no packet received (all erased)"
            )
            return BitstreamCheck(False, reason, None, None, [], num_corrupted)
        first = valid[0]
        if codec_id is not None:
            foreign = {p.codec_id for p in valid} - {codec_id}
            if foreign:
                from spikesat.codecs.registry import codec_names_by_id

                names = codec_names_by_id()
                got = ", ".join(f"{i} ({names.get(i, 'unknown codec id')})" for i in foreign)
                return BitstreamCheck(
                    False,
                    f"packets carry codec id {got} but this decoder is codec id {codec_id} "
                    f"({names.get(codec_id, '?')}); decode them with the codec that made them",
                    first.example_id,
                    first.count,
                    [],
                    num_corrupted,
                )
        if len({p.example_id for p in valid}) > 1 or len({p.count for p in valid}) > 1:
            return BitstreamCheck(
                False,
                "packets of different examples or packet counts are mixed in one bitstream",
                None,
                None,
                [],
                num_corrupted,
            )
        by_index: dict[int, Packet] = {}
        num_duplicates = 0
        for p in valid:
            if p.index >= p.count:
                return BitstreamCheck(
                    False,
                    f"packet index {p.index} >= packet count {p.count}",
                    first.example_id,
                    first.count,
                    [],
                    num_corrupted,
                )
            if p.index in by_index:
                if by_index[p.index].raw != p.raw:
                    return BitstreamCheck(
                        False,
                        f"two different intact packets claim index {p.index}",
                        first.example_id,
                        first.count,
                        [],
                        num_corrupted,
                    )
                num_duplicates += 1
            by_index[p.index] = p
        missing = [i for i in range(first.count) if i not in by_index]
        reasons = []
        if missing:
            reasons.append(f"{len(missing)} of {first.count} packets missing (indices {missing})")
        if num_corrupted:
            reasons.append(f"{num_corrupted} corrupted packet(s) failed the CRC-32 check")
        ok = not missing
        return BitstreamCheck(
            ok,
            "" if ok else "; ".join(reasons),
            first.example_id,
            first.count,
            missing,
            num_corrupted,
            num_duplicates,
        )

    def payload(self, codec_id: int | None = None) -> bytes:
        """Verify the packets and reassemble the payload in packet-index order.

        Corrupted copies are ignored when an intact copy of every index is present.

        Raises
        ------
        ValueError
            If :meth:`check` fails (missing packets, a foreign codec, inconsistent headers).
        """
        result = self.check(codec_id)
        if not result.ok:
            raise ValueError(f"example {result.example_id}: damaged bitstream: {result.reason}")
        by_index = {p.index: p.payload for p in self.packets if p.crc_ok}
        return b"".join(by_index[i] for i in range(len(by_index)))

    def __repr__(self) -> str:
        return f"Bitstream(num_packets={self.num_packets}, num_bytes={self.num_bytes})"
