"""Fuzzing of permessage-deflate (RFC 7692): negotiation and decompression.

Four targets, chosen by the first control byte:

0. The server judges a fuzzer-made ``Sec-WebSocket-Extensions`` offer
   (with fuzzer-chosen server options): it may only decline
   (:class:`NegotiationError`). When it accepts, a client that made that
   offer must accept the answer, and the two negotiated extensions must
   carry messages both ways intact (compressed by one, decompressed by the
   other, with the negotiated windows, context takeover or not).
1. The client judges a fuzzer-made answer to its offer: it may only refuse
   it (:class:`NegotiationError`).
2. Decompression of fuzzer-made frames (unmasked, as a client receives
   them): ``decode`` raises only :class:`ProtocolError` (1002) or
   :class:`PayloadTooBig` (1009), never returns more than ``max_size``
   bytes, and what it returns is what zlib inflates from the same bytes.
   The same frames through a client ``Protocol`` with the extension: no
   exception escapes, no message is larger than ``max_size``.
3. Round trip of fuzzer-made messages through a pair of extensions with
   fuzzer-chosen parameters, fragmented at fuzzer-chosen sizes.

Run: ``python fuzzing/fuzz_deflate.py [libFuzzer flags] [corpus dirs]``.
"""

from __future__ import annotations

import os
import sys
import zlib

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["fastws"]):
    from common import Controls, Finding, check_same, main, outcome

    from fastws import headers
    from fastws.codec import Frame, FrameParser
    from fastws.events import BinaryMessage, TextMessage
    from fastws.exceptions import InvalidHeader, NegotiationError, PayloadTooBig, ProtocolError
    from fastws.extensions.permessage_deflate import (
        ClientPerMessageDeflateFactory,
        PerMessageDeflate,
        ServerPerMessageDeflateFactory,
    )
    from fastws.protocol import Protocol, Side

__all__ = ["test_one_input"]

#: Control bytes (common.Controls): 0 target (mod 4), 1 option bits,
#: 2 server/local window bits, 3 client/remote window bits, 4 max_size,
#: 5 fragment size, 6 compression level; the bytes under test follow.
CONTROL_BYTES = 16

_BITS = [None, 8, 9, 10, 11, 12, 13, 14, 15]
_MAX_SIZES = [None, 0, 1, 16, 100, 1000, 4096, 65536]


def _exchange(
    sender: PerMessageDeflate, receiver: PerMessageDeflate, messages: list[bytes], frag: int
) -> None:
    """Send each message through ``sender.encode`` and ``receiver.decode``; check it arrives intact."""
    for index, message in enumerate(messages):
        opcode = 1 if index % 2 else 2
        pieces = [message[i : i + frag] for i in range(0, len(message), frag)] if frag else [message]
        pieces = pieces or [b""]
        received = []
        for number, piece in enumerate(pieces):
            frame = Frame(opcode if number == 0 else 0, piece, number == len(pieces) - 1)
            encoded = sender.encode(frame)
            decoded = receiver.decode(encoded)
            received.append(bytes(decoded.payload))
            if decoded.rsv1:
                raise Finding(f"decode left RSV1 set: {decoded!r}")
        check_same("message through permessage-deflate", b"".join(received), message)


def _messages(data: bytes) -> list[bytes]:
    # Messages separated by 0xFF bytes; repeated to give deflate something
    # to find across messages (context takeover).
    return [part * 3 for part in data.split(b"\xff")[:8]]


def _negotiate(ctl: Controls, data: bytes) -> None:
    server = ServerPerMessageDeflateFactory(
        server_no_context_takeover=ctl.flag(1, 0),
        client_no_context_takeover=ctl.flag(1, 1),
        server_max_window_bits=ctl.pick(2, _BITS),
        client_max_window_bits=ctl.pick(3, _BITS),
        require_client_max_window_bits=ctl.flag(1, 2) and ctl.pick(3, _BITS) is not None,
    )
    text = ctl.rest.split(b"\n", 1)
    offers = outcome(lambda: headers.parse_extension_list(text[0].decode("latin-1")), (InvalidHeader,))
    if offers[0] != "ok":
        return
    messages = _messages(text[1]) if len(text) > 1 else [b"hello hello hello"]
    for name, params in offers[1]:
        if name != "permessage-deflate":
            continue
        answer = outcome(lambda p=params: server.process_request_params(p, []), (NegotiationError,))
        if answer[0] != "ok":
            continue
        answer_params, server_ext = answer[1]
        # A client that made this offer must accept the answer.
        found = dict(params)
        bits = found.get("server_max_window_bits")
        client_bits = found.get("client_max_window_bits", False)
        client = ClientPerMessageDeflateFactory(
            server_no_context_takeover="server_no_context_takeover" in found,
            client_no_context_takeover="client_no_context_takeover" in found,
            server_max_window_bits=int(bits) if bits is not None else None,
            client_max_window_bits=True
            if client_bits is None
            else (int(client_bits) if client_bits else None),
        )
        # The answer goes over the wire: build it and parse it back.
        wire = headers.build_extension_list([("permessage-deflate", answer_params)])
        ((_, parsed),) = headers.parse_extension_list(wire)
        accepted = outcome(lambda p=parsed, c=client: c.process_response_params(p, []), (NegotiationError,))
        if accepted[0] != "ok":
            raise Finding(f"the client refuses the server's answer {wire!r} to {params!r}: {accepted!r}")
        client_ext = accepted[1]
        check_same(
            "negotiated windows (server local/remote vs client remote/local)",
            (
                server_ext.local_max_window_bits,
                server_ext.remote_max_window_bits,
                server_ext.local_no_context_takeover,
                server_ext.remote_no_context_takeover,
            ),
            (
                client_ext.remote_max_window_bits,
                client_ext.local_max_window_bits,
                client_ext.remote_no_context_takeover,
                client_ext.local_no_context_takeover,
            ),
            data,
        )
        frag = ctl.byte(5) % 64
        _exchange(server_ext, client_ext, messages, frag)
        _exchange(client_ext, server_ext, messages, frag)
        return


def _client_answer(ctl: Controls, data: bytes) -> None:
    client = ClientPerMessageDeflateFactory(
        server_no_context_takeover=ctl.flag(1, 0),
        client_no_context_takeover=ctl.flag(1, 1),
        server_max_window_bits=ctl.pick(2, _BITS),
        client_max_window_bits=[None, True, 8, 9, 10, 11, 12, 13, 14, 15][ctl.byte(3) % 10],
    )
    answers = outcome(lambda: headers.parse_extension_list(ctl.rest.decode("latin-1")), (InvalidHeader,))
    if answers[0] != "ok":
        return
    for name, params in answers[1]:
        if name == "permessage-deflate":
            result = outcome(lambda p=params: client.process_response_params(p, []), (NegotiationError,))
            if result[0] == "ok" and not isinstance(result[1], PerMessageDeflate):
                raise Finding(f"process_response_params returned {result[1]!r}")


def _decompress(ctl: Controls, data: bytes) -> None:
    bits = ctl.pick(3, _BITS) or 15
    max_size = ctl.pick(4, _MAX_SIZES)
    # Without context takeover every message is a deflate stream of its
    # own, so zlib itself, fresh for each message, is the reference.
    no_takeover = ctl.flag(1, 0)
    extension = PerMessageDeflate(no_takeover, False, bits, 15)
    try:
        frames = FrameParser(require_mask=False).feed(ctl.rest)
    except ProtocolError as exc:
        frames = exc.frames
    reference = None
    budget = max_size
    compressed = False
    for frame in frames:
        if frame.opcode >= 8:
            continue
        if frame.opcode != 0:
            budget = max_size
            compressed = frame.rsv1
            reference = zlib.decompressobj(-bits) if frame.rsv1 and no_takeover else None
        result = outcome(
            lambda f=frame, b=budget: extension.decode(f, max_size=b), (ProtocolError, PayloadTooBig)
        )
        if result[0] != "ok":
            break
        out = bytes(result[1].payload)
        # Uncompressed messages pass through unchanged: the frame parser
        # bounds them on the wire; decompressed bytes count against max_size.
        if budget is not None and compressed:
            if len(out) > budget:
                raise Finding(f"decode returned {len(out)} bytes over a budget of {budget}: {data!r}")
            budget -= len(out)
        if reference is not None:
            tail = b"\x00\x00\xff\xff" if frame.fin else b""
            try:
                expected = reference.decompress(frame.payload + tail, len(out) + 1)
            except zlib.error:
                raise Finding(f"fastws inflated what zlib refuses: {data!r}") from None
            check_same("inflated bytes vs zlib", out, expected, data)
        if frame.fin:
            reference = None
            compressed = False
    # The same bytes through a client protocol that negotiated the extension.
    protocol = Protocol(
        Side.CLIENT,
        extensions=[PerMessageDeflate(ctl.flag(1, 0), False, bits, 15)],
        max_size=max_size,
    )
    protocol.receive_data(ctl.rest)
    for event in protocol.events_received():
        if isinstance(event, (TextMessage, BinaryMessage)) and max_size is not None:
            size = len(event.data.encode() if isinstance(event, TextMessage) else event.data)
            if size > max_size:
                raise Finding(f"a {size}-byte message passed max_size={max_size}: {data!r}")
    protocol.data_to_send()


def _round_trip(ctl: Controls, data: bytes) -> None:
    local = ctl.pick(2, _BITS) or 15
    remote = ctl.pick(3, _BITS) or 15
    level = ctl.byte(6) % 11 - 1
    sender = PerMessageDeflate(False, ctl.flag(1, 0), remote, local, level=level, min_size=ctl.byte(4) % 64)
    receiver = PerMessageDeflate(ctl.flag(1, 0), False, local, remote)
    _exchange(sender, receiver, _messages(ctl.rest), ctl.byte(5) % 64)


def test_one_input(data: bytes) -> None:
    """One fuzzer input."""
    ctl = Controls(data, CONTROL_BYTES)
    target = ctl.byte(0) % 4
    if target == 0:
        _negotiate(ctl, data)
    elif target == 1:
        _client_answer(ctl, data)
    elif target == 2:
        _decompress(ctl, data)
    else:
        _round_trip(ctl, data)


if __name__ == "__main__":
    main(test_one_input)
