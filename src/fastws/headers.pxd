# The compiled twin's declarations for headers.py: Headers becomes an
# extension type, its slots C fields (see fastws._layers).


cdef class Headers:
    cdef public object _fields
    cdef public object _index

    cpdef _add_unchecked(self, name, value)
    cpdef _by_name(self)
