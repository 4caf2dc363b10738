# The compiled twin's declarations for stream.py: its classes become
# extension types, their slots C fields (see fastws._layers).

from fastws.flow cimport FlowControl
from fastws.protocol cimport Protocol


cdef class Stream:
    cdef object __weakref__
    cdef public object _addresses
    cdef public object _answers_paused
    cdef public object _close_handle
    cdef public object _closed
    cdef public Py_ssize_t _coalesced
    cdef public object _continue_handle
    cdef public object _counted
    cdef public Py_ssize_t _dispatch_bytes
    cdef public object _dispatching
    cdef public object _drain_waiters
    cdef public object _eof_sent
    cdef public object _failure_handle
    cdef public FlowControl _flow
    cdef public object _flush_handle
    cdef public object _fragmented_send
    cdef public object _handshaking
    cdef public object _input_waiting
    cdef public object _lost
    cdef public object _lost_exc
    cdef public object _marks
    cdef public object _on_close
    cdef public object _on_message
    cdef public object _pings
    cdef public object _queue
    cdef public object _read_view
    cdef public object _recv_waiter
    cdef public object _tcp_closed
    cdef public object _transport_paused
    cdef public object _write_high
    cdef public object _write_low
    cdef public object _writing_paused
    cdef public Py_ssize_t bytes_sent
    cdef public object close_timeout
    cdef public object loop
    cdef public Protocol protocol
    cdef public object request
    cdef public object response
    cdef public object transport

    cpdef get_buffer(self, sizehint)
    cpdef buffer_updated(self, nbytes)
    cpdef _dispatch(self, data)
    cpdef _after_input(self)
    cpdef _flush(self)
    cpdef _flush_later(self)
    cpdef _wake_recv(self)
    cpdef _write(self, chunks)
