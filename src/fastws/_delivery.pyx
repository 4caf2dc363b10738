# cython: language_level=3, freethreading_compatible=True
"""The protocol's fast lane for whole messages (compiled twin).

Same names, results and exceptions as the pure twin (``_delivery_py.py``,
which documents them). It reads a frame's fields straight from the compiled
``Frame``, and makes each event without running its ``__init__``, leaving it
untracked by the garbage collector: an event holds only ``str`` or
``bytes``, so it cannot be part of a cycle, and a tracked one per message
made the collector sweep every few hundred messages.
"""

from cpython.bytes cimport PyBytes_GET_SIZE
from cpython.object cimport PyTypeObject

from fastws._codec cimport Frame

from .constants import Opcode
from .events import BinaryMessage, TextMessage

__all__ = ["IMPLEMENTATION", "deliver_frames"]

IMPLEMENTATION = "cython"

cdef extern from "Python.h":
    object PyType_GenericAlloc(PyTypeObject *cls, Py_ssize_t nitems)
    void PyObject_GC_UnTrack(void *op)

cdef object _TEXT = Opcode.TEXT
cdef object _BINARY = Opcode.BINARY
cdef type _TEXT_EVENT = TextMessage
cdef type _BINARY_EVENT = BinaryMessage


cdef inline object _event(type cls, object data):
    """``cls(data)`` for an event class, without the call to ``__init__``."""
    event = PyType_GenericAlloc(<PyTypeObject *>cls, 0)
    event._data = data
    PyObject_GC_UnTrack(<void *>event)
    return event


def deliver_frames(list frames, Py_ssize_t start, object sink, bint wrap, object stop):
    """deliver_frames(frames, start, sink, wrap, stop)
--

    Hand ``frames[start:]`` over as messages while each is a whole message.
    """
    cdef Py_ssize_t index = start
    cdef Py_ssize_t end = len(frames)
    cdef Frame frame
    cdef object item, message
    cdef bytes payload
    while index < end:
        item = frames[index]
        if type(item) is not Frame:
            break
        frame = <Frame>item
        if frame.fin is not True or frame.rsv1 is not False or frame.rsv2 is not False or frame.rsv3 is not False:
            break
        if type(frame.payload) is not bytes:
            break
        payload = <bytes>frame.payload
        if frame.opcode is _TEXT:
            try:
                message = payload.decode("utf-8")
            except UnicodeDecodeError:
                break
            if wrap:
                message = _event(_TEXT_EVENT, message)
        elif frame.opcode is _BINARY:
            message = _event(_BINARY_EVENT, payload) if wrap else payload
        else:
            break
        index += 1
        try:
            sink(message)
            if stop is not None and stop(PyBytes_GET_SIZE(payload)):
                return index, True
        except BaseException as exc:
            return index, exc
    return index, None
