# cython: language_level=3, freethreading_compatible=True
"""The header lines of an HTTP head read in one pass (compiled twin).

Same names, results and exceptions as the pure twin (``_headscan_py.py``,
which documents them). It walks the bytes once with two 256-entry tables
(token characters, field-value characters) instead of a regular expression
over the decoded block, and makes only the strings it returns.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.stdint cimport uint8_t

__all__ = ["IMPLEMENTATION", "scan_fields"]

IMPLEMENTATION = "cython"

# RFC 9110 section 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" /
# "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
cdef uint8_t _TOKEN[256]
# Section 5.5: a field value's characters: HTAB, SP, VCHAR, obs-text.
cdef uint8_t _VALUE[256]


cdef void _tables() noexcept:
    cdef int c
    for c in range(256):
        _TOKEN[c] = 0
        _VALUE[c] = c == 9 or 0x20 <= c <= 0x7E or c >= 0x80
    for c in b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz":
        _TOKEN[c] = 1


_tables()


def scan_fields(bytes data, Py_ssize_t start, Py_ssize_t end, Py_ssize_t max_headers):
    """scan_fields(data, start, end, max_headers)
--

    The header lines of ``data[start:end]`` as ``(fields, index)``, or None.
    """
    cdef const uint8_t *p = data
    cdef Py_ssize_t i, name_start, name_end, value_start, value_end
    cdef Py_ssize_t count = 0
    cdef list fields = []
    cdef dict index = {}
    cdef object name, value, key
    cdef PyObject *found
    if start < 0 or end > len(data) or start > end:
        raise ValueError("start and end must lie within data, in order")
    i = start
    while i < end:
        name_start = i
        while i < end and _TOKEN[p[i]]:
            i += 1
        if i == name_start or i >= end or p[i] != 58:  # ":"
            return None
        name_end = i
        i += 1
        while i < end and (p[i] == 32 or p[i] == 9):
            i += 1
        value_start = i
        while i < end and _VALUE[p[i]]:
            i += 1
        if i + 1 >= end or p[i] != 13 or p[i + 1] != 10:
            return None
        value_end = i
        while value_end > value_start and (p[value_end - 1] == 32 or p[value_end - 1] == 9):
            value_end -= 1
        i += 2
        count += 1
        if count > max_headers:
            return None
        name = PyUnicode_DecodeLatin1(<const char *>p + name_start, name_end - name_start, NULL)
        value = PyUnicode_DecodeLatin1(<const char *>p + value_start, value_end - value_start, NULL)
        fields.append(name)
        fields.append(value)
        key = _lower(p + name_start, name_end - name_start, name)
        found = PyDict_GetItem(index, key)
        if found is NULL:
            index[key] = [value]
        else:
            (<list>found).append(value)
    return fields, index


cdef object _lower(const uint8_t *name, Py_ssize_t size, object as_sent):
    """The lower-cased name (a token: ASCII): ``as_sent`` itself when it has no capital."""
    cdef char small[64]
    cdef Py_ssize_t i, first = -1
    for i in range(size):
        if 65 <= name[i] <= 90:  # "A" to "Z"
            first = i
            break
    if first < 0:
        return as_sent
    if size > 64:
        return as_sent.lower()
    for i in range(size):
        small[i] = name[i] + 32 if 65 <= name[i] <= 90 else name[i]
    return PyUnicode_DecodeLatin1(small, size, NULL)
