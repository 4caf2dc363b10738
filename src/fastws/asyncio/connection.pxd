# The compiled twin's declarations for connection.py: its class becomes an
# extension type (see fastws._layers).

from fastws.asyncio.stream cimport Stream


cdef class Connection(Stream):
    cpdef send_nowait(self, message)
    cpdef _not_open(self)
    cpdef _check_open(self)
    cpdef _send_message(self, message)
    cpdef _take(self)
    cpdef _flush_or_hold(self, Py_ssize_t size)
