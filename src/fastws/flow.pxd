# The compiled twin's declarations for flow.py: its classes become
# extension types, their slots C fields (see fastws._layers).


cdef class FlowControl:
    cdef public object _max_queue
    cdef public object _max_queue_bytes
    cdef public object _max_work
    cdef public object _queued_bytes
    cdef public object _sizes
    cdef public object active
    cdef public object held
    cdef public object held_cost
    cdef public object limited
    cdef public object paused
    cdef public object unparsed
    cdef public object work

    cpdef blocked(self)
    cpdef worked_out(self)
