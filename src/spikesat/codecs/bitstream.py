"""Bitstream packets: MTU-bounded, self-describing, CRC-32 checked, and aware of their stream.

Wire format of one packet (version 2)::

    magic          2 bytes   b"SK"
    version        1 byte    2
    codec_id       1 byte    the codec's wire id (see ``spikesat.codecs.registry``)
    stream_id      4 bytes   big-endian; a random nonce drawn once per ``compress`` call
    example_id     varint    unsigned LEB128: the example's index in its stream
    packet_index   varint    0 .. packet_count - 1
    packet_count   varint    >= 1
    payload_len    varint    bytes of payload that follow
    payload        payload_len bytes
    example_digest 4 bytes   only in the last packet (packet_index == packet_count - 1), see below
    crc32          4 bytes   big-endian CRC-32 (zlib polynomial) of every byte before it

The **example digest** is a 4-byte BLAKE2b of the whole reassembled payload together with the
stream id, example id and packet count, keyed with the codec's identity (its name and a
fingerprint of its configuration, see :meth:`spikesat.codecs.Codec.identity`). The packet CRCs
catch damaged packets; the stream id, example id and digest catch intact packets that do not
belong together: packets of another stream or another example, and streams of a codec with
another configuration.

A :class:`Bitstream` is the list of packets of one example. ``to_bytes()`` concatenates them, so
``len(bitstream.to_bytes())`` is the true number of bytes on the wire, headers and checks
included. Reading back verifies every packet: a missing, corrupted, duplicated-but-different,
foreign or mixed packet is reported by :meth:`Bitstream.check` and makes
:meth:`Bitstream.payload` raise.

Overhead: a one-packet example costs 19 bytes plus the payload-length varint (1 byte below 128
payload bytes, 2 below 16384): 20 or 21 bytes, where version 1 cost 12 or 13 (+8 per example:
the stream id and the digest). Every further packet costs 4 bytes more than in version 1 (the
stream id): 17 bytes for a full 1500-byte packet (an example id below 128).
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field

MAGIC = b"SK"
"""First two bytes of every packet."""

VERSION = 2
"""The packet format version this module writes and reads."""

CRC_BYTES = 4
"""Size of the CRC-32 trailer [bytes]."""

STREAM_ID_BYTES = 4
"""Size of the stream id [bytes]."""

DIGEST_BYTES = 4
"""Size of the example digest carried by the last packet of an example [bytes]."""

MAX_STREAM_ID = (1 << (8 * STREAM_ID_BYTES)) - 1
"""Largest stream id."""

MIN_MTU_BYTES = 48
"""Smallest MTU a codec accepts [bytes]: the largest header plus a useful payload."""

DEFAULT_MTU_BYTES = 1500
"""Default MTU [bytes] (an Ethernet / IP datagram)."""

_MAX_VARINT_BYTES = 5  # values < 2**35, far above any count or length here
_FIXED_HEADER_BYTES = len(MAGIC) + 2 + STREAM_ID_BYTES
_OLD_VERSIONS = {1: "spikesat before bitstream identity (no stream id or example digest)"}


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


def example_digest(
    payload: bytes, *, stream_id: int, example_id: int, count: int, key: bytes = b""
) -> bytes:
    """The 4-byte example digest: BLAKE2b of the ids and the payload, keyed with ``key``.

    ``key`` is the codec's identity (up to 64 bytes; empty for bare bitstreams).
    """
    digest = hashlib.blake2b(digest_size=DIGEST_BYTES, key=bytes(key))
    digest.update(stream_id.to_bytes(STREAM_ID_BYTES, "big"))
    digest.update(encode_varint(example_id) + encode_varint(count))
    digest.update(payload)
    return digest.digest()


def _header(
    codec_id: int, stream_id: int, example_id: int, index: int, count: int, length: int
) -> bytes:
    return b"".join(
        [
            MAGIC,
            bytes([VERSION, codec_id]),
            stream_id.to_bytes(STREAM_ID_BYTES, "big"),
            encode_varint(example_id),
            encode_varint(index),
            encode_varint(count),
            encode_varint(length),
        ]
    )


def _check_ids(codec_id: int, stream_id: int, example_id: int) -> None:
    if not 0 <= codec_id <= 255:
        raise ValueError(f"codec_id must be in 0..255, got {codec_id}")
    if not 0 <= stream_id <= MAX_STREAM_ID:
        raise ValueError(f"stream_id must be in 0..{MAX_STREAM_ID}, got {stream_id}")
    if example_id < 0:
        raise ValueError(f"example_id must be >= 0, got {example_id}")


@dataclass(frozen=True)
class Packet:
    """One packet as received: its raw bytes and the header fields parsed from them.

    Build packets with :meth:`Bitstream.from_payload`; read them with :meth:`Packet.from_bytes`.
    The fields come from the bytes and are only trustworthy when :attr:`crc_ok` is True.
    ``digest`` is the example digest (last packet of an example only; empty otherwise).
    """

    raw: bytes
    version: int
    codec_id: int
    stream_id: int
    example_id: int
    index: int
    count: int
    payload: bytes
    digest: bytes = b""

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
        cls,
        payload: bytes,
        *,
        codec_id: int,
        example_id: int,
        index: int,
        count: int,
        stream_id: int = 0,
        digest: bytes = b"",
    ) -> Packet:
        """Frame ``payload`` as one packet with a fresh CRC-32.

        The last packet of an example (``index == count - 1``) carries ``digest``
        (:data:`DIGEST_BYTES` bytes, see :func:`example_digest`); the others carry none.
        """
        _check_ids(codec_id, stream_id, example_id)
        last = index == count - 1
        if len(digest) != (DIGEST_BYTES if last else 0):
            raise ValueError(
                f"packet {index} of {count} needs a {DIGEST_BYTES if last else 0}-byte digest, "
                f"got {len(digest)} bytes"
            )
        body = _header(codec_id, stream_id, example_id, index, count, len(payload))
        body += payload + digest
        raw = body + zlib.crc32(body).to_bytes(CRC_BYTES, "big")
        return cls(raw, VERSION, codec_id, stream_id, example_id, index, count, payload, digest)

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> tuple[Packet, int]:
        """Parse one packet starting at ``offset``; return it and the offset after it.

        The CRC is not checked here (see :attr:`crc_ok`), so a corrupted packet can still be
        located, counted and reported.

        Raises
        ------
        ValueError
            If the bytes do not frame a packet: bad magic, a version this code does not read
            (older versions are named), a broken varint, or fewer bytes than the header
            declares (truncation).
        """
        head = bytes(data[offset : offset + 2])
        if len(head) < len(MAGIC) and MAGIC.startswith(head):
            raise ValueError(f"truncated packet header at byte {offset}")
        if head != MAGIC:
            raise ValueError(
                f"bad magic {head!r} at byte {offset}: expected "
                f"{MAGIC!r} (not a spikesat packet, or corrupted)"
            )
        if offset + _FIXED_HEADER_BYTES > len(data):
            raise ValueError(f"truncated packet header at byte {offset}")
        version, codec_id = data[offset + 2], data[offset + 3]
        if version != VERSION:
            known = _OLD_VERSIONS.get(version)
            written = f"written by {known}" if known else "unknown"
            raise ValueError(
                f"bitstream version {version} at byte {offset} ({written}): this spikesat reads "
                f"only version {VERSION}; re-compress the data with this spikesat (or the packet "
                "is corrupted)"
            )
        pos = offset + 4
        stream_id = int.from_bytes(data[pos : pos + STREAM_ID_BYTES], "big")
        pos += STREAM_ID_BYTES
        example_id, pos = decode_varint(data, pos)
        index, pos = decode_varint(data, pos)
        count, pos = decode_varint(data, pos)
        length, pos = decode_varint(data, pos)
        digest_bytes = DIGEST_BYTES if index == count - 1 else 0
        end = pos + length + digest_bytes + CRC_BYTES
        if end > len(data):
            raise ValueError(
                f"truncated packet at byte {offset}: it declares {length} payload bytes plus "
                f"{digest_bytes + CRC_BYTES} bytes of checks but only {len(data) - pos} bytes "
                "remain"
            )
        raw = bytes(data[offset:end])
        payload = bytes(data[pos : pos + length])
        digest = bytes(data[pos + length : pos + length + digest_bytes])
        packet = cls(raw, version, codec_id, stream_id, example_id, index, count, payload, digest)
        return packet, end

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
        Every packet present, CRC-valid, consistent, of one stream and example, of the
        expected codec, and (when a key was given) the example digest matches.
    reason : str
        Empty when ``ok``; otherwise why not, in words.
    example_id : int or None
        The example id the valid packets agree on (None when none is valid or they disagree).
    num_packets_expected : int or None
        The packet count the valid packets declare.
    missing : list of int
        Packet indices never received intact.
    num_corrupted : int
        Packets whose CRC failed or whose bytes could not be framed.
    num_duplicates : int
        Identical copies of a packet received more than once (harmless, dropped).
    stream_id : int or None
        The stream id the valid packets agree on (None when none is valid or they disagree).
    """

    ok: bool
    reason: str
    example_id: int | None
    num_packets_expected: int | None
    missing: list[int] = field(default_factory=list)
    num_corrupted: int = 0
    num_duplicates: int = 0
    stream_id: int | None = None


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
        stream_id: int = 0,
        key: bytes = b"",
        mtu_bytes: int = DEFAULT_MTU_BYTES,
    ) -> Bitstream:
        """Split ``payload`` into packets of at most ``mtu_bytes`` each, headers included.

        Parameters
        ----------
        payload : bytes
            The example's whole payload.
        codec_id, example_id, stream_id : int
            Written into every packet header.
        key : bytes
            Keys the example digest (a codec passes its :meth:`~spikesat.codecs.Codec.identity`);
            :meth:`payload` must be given the same key.
        mtu_bytes : int
            Largest packet [bytes].

        Raises
        ------
        ValueError
            If ``mtu_bytes`` is below :data:`MIN_MTU_BYTES` or an id is out of range.
        """
        if not isinstance(mtu_bytes, int) or mtu_bytes < MIN_MTU_BYTES:
            raise ValueError(f"mtu_bytes must be an int >= {MIN_MTU_BYTES}, got {mtu_bytes!r}")
        _check_ids(codec_id, stream_id, example_id)
        # Worst-case header: index, count and length each as a 5-byte varint; every packet
        # reserves room for the digest (only the last one carries it).
        overhead = _FIXED_HEADER_BYTES + len(encode_varint(example_id)) + 3 * _MAX_VARINT_BYTES
        capacity = mtu_bytes - overhead - DIGEST_BYTES - CRC_BYTES
        chunks = [payload[i : i + capacity] for i in range(0, len(payload), capacity)] or [b""]
        count = len(chunks)
        digest = example_digest(
            payload, stream_id=stream_id, example_id=example_id, count=count, key=key
        )
        return cls(
            [
                Packet.build(
                    chunk,
                    codec_id=codec_id,
                    stream_id=stream_id,
                    example_id=example_id,
                    index=i,
                    count=count,
                    digest=digest if i == count - 1 else b"",
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
            True (default): any framing error (bad magic, an old or unknown version,
            truncation) raises. False: skip to the next plausible packet start and count the
            skipped bytes as corruption, so :meth:`check` reports the damage instead.

        Raises
        ------
        ValueError
            In strict mode, on the first framing error, naming the byte offset (and, for a
            packet of another format version, the version and what to do).
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

    def check(self, codec_id: int | None = None, key: bytes | None = None) -> BitstreamCheck:
        """Verify every packet: CRC, the codec, one stream, one example, a consistent count, no
        gaps, and (with ``key``) the example digest.

        Parameters
        ----------
        codec_id : int, optional
            The wire id the decoder expects; a packet of another codec fails the check.
        key : bytes, optional
            The key the example digest was made with (a codec's identity); None skips the
            digest (packet-level checks only).
        """
        valid = [p for p in self.packets if p.crc_ok]
        num_corrupted = len(self.packets) - len(valid) + (1 if self.num_unframed_bytes else 0)

        stream_ids = {p.stream_id for p in valid}
        one_stream = next(iter(stream_ids)) if len(stream_ids) == 1 else None

        def fail(reason: str, example_id: int | None = None, count: int | None = None):
            return BitstreamCheck(
                False, reason, example_id, count, [], num_corrupted, 0, one_stream
            )

        if not valid:
            reason = (
                f"no intact packet: {num_corrupted} corrupted packet(s) failed the CRC-32 check"
                if num_corrupted
                else "no packet received (all erased)"
            )
            return fail(reason)
        first = valid[0]
        if codec_id is not None:
            foreign = {p.codec_id for p in valid} - {codec_id}
            if foreign:
                from spikesat.codecs.registry import codec_names_by_id

                names = codec_names_by_id()
                got = ", ".join(f"{i} ({names.get(i, 'unknown codec id')})" for i in foreign)
                return fail(
                    f"packets carry codec id {got} but this decoder is codec id {codec_id} "
                    f"({names.get(codec_id, '?')}); decode them with the codec that made them",
                    first.example_id,
                    first.count,
                )
        if len(stream_ids) > 1:
            ids = ", ".join(f"{s:08x}" for s in sorted(stream_ids))
            return fail(
                f"packets of {len(stream_ids)} different streams (ids {ids}) are mixed in one "
                "bitstream"
            )
        if len({p.example_id for p in valid}) > 1 or len({p.count for p in valid}) > 1:
            return fail("packets of different examples or packet counts are mixed in one bitstream")
        by_index: dict[int, Packet] = {}
        num_duplicates = 0
        for p in valid:
            if p.index >= p.count:
                return fail(
                    f"packet index {p.index} >= packet count {p.count}", first.example_id, p.count
                )
            if p.index in by_index:
                if by_index[p.index].raw != p.raw:
                    return fail(
                        f"two different intact packets claim index {p.index}",
                        first.example_id,
                        first.count,
                    )
                num_duplicates += 1
            by_index[p.index] = p
        missing = [i for i in range(first.count) if i not in by_index]
        reasons = []
        if missing:
            shown = missing if len(missing) <= 8 else [*missing[:8], "..."]
            reasons.append(f"{len(missing)} of {first.count} packets missing (indices {shown})")
        if num_corrupted:
            reasons.append(f"{num_corrupted} corrupted packet(s) failed the CRC-32 check")
        ok = not missing
        if ok and key is not None:
            payload = b"".join(by_index[i].payload for i in range(first.count))
            expected = example_digest(
                payload,
                stream_id=first.stream_id,
                example_id=first.example_id,
                count=first.count,
                key=key,
            )
            if by_index[first.count - 1].digest != expected:
                ok = False
                reasons.append(
                    "every packet is intact but the example digest does not match: the packets "
                    "were made by a codec of another configuration (or other weights) than this "
                    "decoder, or do not belong together"
                )
        return BitstreamCheck(
            ok,
            "" if ok else "; ".join(reasons),
            first.example_id,
            first.count,
            missing,
            num_corrupted,
            num_duplicates,
            first.stream_id,
        )

    def payload(self, codec_id: int | None = None, key: bytes = b"") -> bytes:
        """Verify the packets and the example digest; reassemble the payload in index order.

        Corrupted copies are ignored when an intact copy of every index is present.

        Parameters
        ----------
        codec_id : int, optional
            The wire id the decoder expects.
        key : bytes
            The key of the example digest (a codec's identity; empty for bare bitstreams).

        Raises
        ------
        ValueError
            If :meth:`check` fails (missing packets, a foreign codec or stream, inconsistent
            headers, a digest that does not match).
        """
        result = self.check(codec_id, key)
        if not result.ok:
            raise ValueError(f"example {result.example_id}: damaged bitstream: {result.reason}")
        return self.reassemble()

    def reassemble(self) -> bytes:
        """The payload of the intact packets in index order, unverified (see :meth:`payload`)."""
        by_index = {p.index: p.payload for p in self.packets if p.crc_ok}
        return b"".join(by_index[i] for i in sorted(by_index))

    def __repr__(self) -> str:
        return f"Bitstream(num_packets={self.num_packets}, num_bytes={self.num_bytes})"
