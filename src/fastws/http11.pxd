# The compiled twin's declarations for http11.py: the head parsers become
# extension types, their slots C fields (see fastws._layers). Request and
# Response stay dataclasses.

from fastws.headers cimport Headers


cdef class _HeadParser:
    cdef public object _buf
    cdef public object _count
    cdef public object _done
    cdef public object _error
    cdef public Headers _headers
    cdef public object _max_header_line
    cdef public object _max_headers
    cdef public object _max_line
    cdef public object _max_size
    cdef public object _size
    cdef public object _start


cdef class RequestParser(_HeadParser):
    pass


cdef class ResponseParser(_HeadParser):
    pass
