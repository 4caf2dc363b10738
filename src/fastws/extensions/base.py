"""The interface of a WebSocket extension: its negotiation and its frame work.

RFC 6455 section 9: an extension is negotiated in the opening handshake and
may then give a meaning to the reserved bits RSV1-3 of data frames and
transform their payloads (permessage-deflate, RFC 7692, owns RSV1). The
protocol accepts a reserved bit only when a negotiated extension owns it;
otherwise it fails the connection with 1002.

* :class:`ClientExtensionFactory` and :class:`ServerExtensionFactory`: the
  negotiation, one factory per extension and role. The handshake
  (:func:`fastws.handshake.negotiate_extensions`,
  :func:`fastws.handshake.check_response`) hands them the parameters of
  ``Sec-WebSocket-Extensions`` as :data:`ExtensionParameter` pairs;
* :class:`Extension`: what a negotiated extension does to the frames.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ..codec import Frame

__all__ = [
    "ClientExtensionFactory",
    "Extension",
    "ExtensionHeader",
    "ExtensionParameter",
    "ServerExtensionFactory",
]

ExtensionParameter = tuple[str, str | None]
"""One extension parameter: ``(name, value)``, value None when absent."""

ExtensionHeader = tuple[str, list[ExtensionParameter]]
"""One element of Sec-WebSocket-Extensions: ``(name, parameters)``."""


class ClientExtensionFactory(abc.ABC):
    """Client side of an extension's negotiation (subclass it).

    Attributes:
        name: the extension token, e.g. ``permessage-deflate``.
    """

    name: str

    @abc.abstractmethod
    def get_request_params(self) -> Sequence[ExtensionParameter]:
        """The parameters to offer in ``Sec-WebSocket-Extensions``."""

    @abc.abstractmethod
    def process_response_params(
        self, params: Sequence[ExtensionParameter], accepted: Sequence[Extension]
    ) -> Extension:
        """Accept the server's answer to the offer.

        Args:
            params: the parameters the server sent for this extension.
            accepted: extensions already accepted from the same header, in
                order, so that an extension can check how it combines.

        Returns:
            The negotiated extension.

        Raises:
            NegotiationError: the parameters are not acceptable.
        """


class ServerExtensionFactory(abc.ABC):
    """Server side of an extension's negotiation (subclass it).

    Attributes:
        name: the extension token, e.g. ``permessage-deflate``.
    """

    name: str

    @abc.abstractmethod
    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], Extension]:
        """Accept one offer of the client.

        Args:
            params: the parameters of this offer.
            accepted: extensions already accepted, in order.

        Returns:
            The parameters to answer with and the negotiated extension.

        Raises:
            NegotiationError: this offer is not acceptable (the next offer or
                factory is tried; the handshake still succeeds without it).
        """


class Extension(abc.ABC):
    """A negotiated extension, as the protocol sees it.

    Subclasses set the class attributes and implement :meth:`decode` and
    :meth:`encode`. Only data frames (text, binary, continuation) go through
    an extension; control frames never do, and a reserved bit on a control
    frame always fails the connection.

    Attributes:
        name: the extension token registered with IANA, e.g.
            ``"permessage-deflate"``.
        rsv1: whether the extension owns the RSV1 bit.
        rsv2: whether the extension owns the RSV2 bit.
        rsv3: whether the extension owns the RSV3 bit.
    """

    name: ClassVar[str]
    rsv1: ClassVar[bool] = False
    rsv2: ClassVar[bool] = False
    rsv3: ClassVar[bool] = False

    @abc.abstractmethod
    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        """Decode an incoming data frame.

        Extensions are applied to incoming frames in the reverse of the
        order in which they were negotiated (RFC 6455 section 9.1).

        Args:
            frame: the frame as received (payload unmasked), or as returned
                by the extension negotiated after this one.
            max_size: how many more payload bytes the current message may
                hold once decoded, or None for no limit. An extension that
                expands data (decompression) must not produce more and must
                raise :class:`fastws.PayloadTooBig` instead, without
                spending the memory first.

        Returns:
            The decoded frame, with the reserved bits this extension owns
            cleared.

        Raises:
            ProtocolError: the frame breaks the extension's rules (the
                protocol fails the connection with the exception's
                ``close_code``); PayloadTooBig when ``max_size`` would be
                exceeded.
        """

    @abc.abstractmethod
    def encode(self, frame: Frame) -> Frame:
        """Encode an outgoing data frame.

        Extensions are applied to outgoing frames in the order in which
        they were negotiated.

        Args:
            frame: the frame to send (unmasked; masking happens after).

        Returns:
            The encoded frame, with this extension's reserved bits set as
            its specification requires.
        """

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
