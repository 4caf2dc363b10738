"""Fuzzing of the opening-handshake parsers (request and response).

The handshake layer is pure Python (there is no compiled twin to compare
with), so the harness compares each parser with itself and with its
round trip:

* ``RequestParser`` / ``ResponseParser`` with fuzzer-chosen limits get the
  input whole (their one-piece fast path) and cut at fuzzer-chosen points
  (the line-by-line path): they must return the same message and leftover
  bytes, or raise :class:`InvalidHTTPMessage` with the same status and
  detail. Nothing else may be raised.
* A parsed message, serialized again, parses to the same message.
* The server (``ServerProtocol``, with permessage-deflate offered when it
  exists, subprotocols and an origin allow-list) fed the request in pieces
  and answering it: no exception at all escapes ``receive_data``,
  ``accept`` or ``send_response``; the answer is a well-formed response
  with a status the module documents.
* The client (``ClientProtocol``) fed a response in which ``@ACCEPT@`` is
  replaced by the right ``Sec-WebSocket-Accept`` (so that inputs reach the
  subprotocol and extension checks): no exception escapes, and the
  handshake either opens or sets ``handshake_exc`` to an
  :class:`InvalidHandshake`.
* The header-list grammars (``parse_token_list``,
  ``parse_subprotocol_list``, ``parse_extension_list``) raise only
  :class:`InvalidHeader`, and what they return survives a build/parse
  round trip.

Run: ``python fuzzing/fuzz_handshake.py [libFuzzer flags] [corpus dirs]``.
"""

from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["fastws"]):
    from common import Controls, Finding, check_same, main, outcome, split

    from fastws import handshake, headers
    from fastws.client import ClientProtocol
    from fastws.exceptions import InvalidHandshake, InvalidHeader, InvalidHTTPMessage
    from fastws.http11 import Request, RequestParser, ResponseParser
    from fastws.protocol import State
    from fastws.server import ServerProtocol

    try:
        from fastws.extensions.permessage_deflate import (
            ClientPerMessageDeflateFactory,
            ServerPerMessageDeflateFactory,
        )
    except ImportError:  # permessage-deflate not there yet
        ClientPerMessageDeflateFactory = ServerPerMessageDeflateFactory = None  # type: ignore[assignment,misc]

__all__ = ["test_one_input"]

_LIMIT_CHOICES = [0, 1, 2, 16, 40, 64, 128, 1024, 8192, 65536]
#: Statuses a fastws server may answer a handshake with (server.py, handshake.py).
_SERVER_STATUSES = {101, 400, 403, 405, 414, 426, 431, 505}


def _parse(parser_class: type, limits: dict, pieces: list[bytes]) -> tuple:
    """Feed the pieces; ``("ok", message fields, leftover)`` or ``("raise", status, detail)``."""
    parser = parser_class(**limits)
    for index, piece in enumerate(pieces):
        try:
            result = parser.feed(piece)
        except InvalidHTTPMessage as exc:
            if exc.status not in (400, 405, 414, 431, 505):
                raise Finding(f"undocumented HTTP status {exc.status}: {exc.detail}") from exc
            # Broken for good: the next feed raises it again.
            try:
                parser.feed(b"x")
            except InvalidHTTPMessage as again:
                check_same("error raised again", (again.status, again.detail), (exc.status, exc.detail))
            else:
                raise Finding("a failed parser accepted more input") from exc
            return ("raise", exc.status, exc.detail)
        if result is not None:
            message, leftover = result
            rest = leftover + b"".join(pieces[index + 1 :])
            if hasattr(message, "path"):
                fields: tuple = (message.path,)
            else:
                fields = (message.status, message.reason)
            return ("ok", fields, message.headers.raw_items(), rest, message)
    return ("incomplete", parser.buffered <= max(limits.values()) + 2)


def _strip(result: tuple, limits: dict) -> tuple:
    """What must not depend on the cut points."""
    if result[0] == "ok":
        return result[:4]
    status, detail = result[1:]
    if any(word in detail for word in ("longer than", "larger than", "more than")):
        # When the input breaks two limits at once, which one is found first
        # may depend on where the reads end (a head-size limit below the line
        # limit, or headers filling the head): the status must agree, the
        # detail may name either limit.
        if limits["max_size"] < max(limits["max_line"], limits["max_header_line"]) + 2:
            return ("raise", "over a limit")
        return ("raise", status)
    return result


def _fuzz_parser(parser_class: type, ctl: Controls, data: bytes) -> tuple | None:
    names = ["max_line", "max_header_line", "max_headers", "max_size"]
    if ctl.flag(1):
        limits = {name: ctl.pick(2 + i, _LIMIT_CHOICES) for i, name in enumerate(names)}
    else:
        limits = {}
    cuts = ctl.cuts(6, 8, 6)
    raw = ctl.rest
    full_limits = {"max_line": 8192, "max_header_line": 8192, "max_headers": 128, "max_size": 65536, **limits}
    whole = _parse(parser_class, full_limits, [raw])
    pieces = _parse(parser_class, full_limits, split(raw, cuts))
    if whole[0] == "incomplete" or pieces[0] == "incomplete":
        # Only a complete head or an error can be compared; an incomplete
        # head must be at most one line held, within the limits.
        for result in (whole, pieces):
            if result[0] == "incomplete" and not result[1]:
                raise Finding(f"{parser_class.__name__} holds more than a line: {data!r}")
        if whole[0] != pieces[0]:
            # Whole input incomplete but pieces complete is impossible.
            raise Finding(f"{parser_class.__name__} whole {whole!r} vs pieces {pieces!r}: {data!r}")
        return None
    check_same(
        f"{parser_class.__name__} whole vs pieces",
        _strip(whole, full_limits),
        _strip(pieces, full_limits),
        data,
    )
    if whole[0] == "ok":
        message = whole[4]
        again = _parse(parser_class, full_limits, [message.serialize()])
        if again[0] == "ok":
            check_same(
                f"{parser_class.__name__} round trip",
                (again[1], again[2]),
                (whole[1], whole[2]),
                data,
            )
    return whole


def _fuzz_server(ctl: Controls, data: bytes) -> None:
    options: dict = {}
    if ctl.flag(1, 0):
        options["subprotocols"] = ["chat", "superchat", "v2.json"]
    if ctl.flag(1, 1):
        options["origins"] = [None, "https://example.com"]
    if ServerPerMessageDeflateFactory is not None and not ctl.flag(1, 2):
        options["extensions"] = [ServerPerMessageDeflateFactory()]
    cuts = ctl.cuts(6, 8, 6)
    raw = ctl.rest
    server = ServerProtocol(**options)
    for piece in split(raw, cuts):
        if server.state is State.CLOSED:
            break
        server.receive_data(piece)
        for event in server.events_received():
            if isinstance(event, Request):
                server.send_response(server.accept(event))
    output = b"".join(server.data_to_send())
    if server.state is State.CONNECTING:
        check_same("server output while CONNECTING", output, b"", data)
        return
    if not output:
        return
    limits = {"max_line": 8192, "max_header_line": 8192, "max_headers": 128, "max_size": 65536}
    response = _parse(ResponseParser, limits, [output])
    if response[0] != "ok":
        raise Finding(f"the server's answer does not parse: {response!r}\ninput: {data!r}")
    status = response[1][0]
    if status not in _SERVER_STATUSES:
        raise Finding(f"undocumented status {status}\ninput: {data!r}")
    if status == 101 and server.handshake_exc is not None:
        raise Finding(f"101 sent although the handshake failed: {server.handshake_exc!r}\ninput: {data!r}")
    if status != 101 and server.state is not State.CLOSED:
        raise Finding(f"refused with {status} but the state is {server.state!r}\ninput: {data!r}")


def _fuzz_client(ctl: Controls, data: bytes) -> None:
    options: dict = {}
    if ctl.flag(1, 0):
        options["subprotocols"] = ["chat", "superchat"]
    if ClientPerMessageDeflateFactory is not None and not ctl.flag(1, 2):
        options["extensions"] = [ClientPerMessageDeflateFactory()]
    cuts = ctl.cuts(6, 8, 6)
    raw = ctl.rest
    client = ClientProtocol("ws://example.com/chat", **options)
    request = client.connect()
    client.send_request(request)
    client.data_to_send()
    accept = handshake.accept_key(request.headers["Sec-WebSocket-Key"]).encode()
    raw = raw.replace(b"@ACCEPT@", accept)
    for piece in split(raw, cuts):
        if client.state is State.CLOSED:
            break
        client.receive_data(piece)
        client.events_received()
    client.data_to_send()
    if client.state is State.CONNECTING:
        return
    if client.handshake_exc is not None:
        if not isinstance(client.handshake_exc, InvalidHandshake):
            raise Finding(f"handshake_exc is {client.handshake_exc!r}\ninput: {data!r}")
        if client.state is not State.CLOSED:
            raise Finding(f"failed handshake left the client in {client.state!r}\ninput: {data!r}")


def _fuzz_lists(ctl: Controls, data: bytes) -> None:
    which = ctl.byte(1) % 3
    value = ctl.rest.decode("latin-1")
    if which == 0:
        result = outcome(lambda: headers.parse_token_list(value), (InvalidHeader,))
        if result[0] == "ok":
            again = headers.parse_token_list(", ".join(result[1]))
            check_same("token list round trip", again, result[1], data)
    elif which == 1:
        result = outcome(lambda: headers.parse_subprotocol_list(value), (InvalidHeader,))
        if result[0] == "ok" and result[1]:
            built = headers.build_subprotocol_list(result[1])
            check_same("subprotocol list round trip", headers.parse_subprotocol_list(built), result[1], data)
    else:
        result = outcome(lambda: headers.parse_extension_list(value), (InvalidHeader,))
        if result[0] == "ok" and result[1]:
            built = headers.build_extension_list(result[1])
            check_same("extension list round trip", headers.parse_extension_list(built), result[1], data)


#: Control bytes (common.Controls): 0 target (mod 5: request parser,
#: response parser, server, client, header lists), 1 options, 2-5 limits,
#: 6 number of cuts, 8-19 cut positions; the bytes under test follow.
CONTROL_BYTES = 20


def test_one_input(data: bytes) -> None:
    """One fuzzer input: which target is the first choice made from it."""
    ctl = Controls(data, CONTROL_BYTES)
    target = ctl.byte(0) % 5
    if target == 0:
        _fuzz_parser(RequestParser, ctl, data)
    elif target == 1:
        _fuzz_parser(ResponseParser, ctl, data)
    elif target == 2:
        _fuzz_server(ctl, data)
    elif target == 3:
        _fuzz_client(ctl, data)
    else:
        _fuzz_lists(ctl, data)


if __name__ == "__main__":
    main(test_one_input)
