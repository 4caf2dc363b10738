# The compiled twin's declarations for server.py: ServerProtocol becomes an
# extension type, its slots C fields (see fastws._layers).

from fastws.protocol cimport Protocol


cdef class ServerProtocol(Protocol):
    cdef public object _available_extensions
    cdef public object _early
    cdef public object _http_parser
    cdef public object _max_early
    cdef public object _pending
    cdef public object _select_subprotocol
    cdef public object available_subprotocols
    cdef public object origins
    cdef public object request
    cdef public object response
    cdef public object server_header
