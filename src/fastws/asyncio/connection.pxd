# The compiled twin's declarations for connection.py: its class becomes an
# extension type (see fastws._layers).

from fastws.asyncio.stream cimport Stream


cdef class Connection(Stream):
    pass
