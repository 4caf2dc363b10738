# cython: language_level=3, freethreading_compatible=True
"""The opening handshake's work for each connection (compiled twin).

Same names, results and exceptions as the pure twin (``_upgrade_py.py``,
which documents them). Each is a short loop here, where the pure twin calls
the regular expression engine: ``scan_fields`` walks the bytes once with two
256-entry tables (token characters, field-value characters) and makes only
the strings it returns (the names of common fields not even those);
``scan_request_line`` compares the bytes around the target;
``canonical_key`` and ``valid_host`` check their grammar character by
character; ``accept_key`` takes SHA-1 from hashlib, as the pure twin does
(OpenSSL's, with the CPU's SHA instructions where it has them, is faster
than a C loop here), and writes the base64 itself.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_DecodeLatin1
from libc.stdint cimport uint8_t, uint32_t
from libc.string cimport memcmp, memcpy

from hashlib import sha1 as _sha1_digest

from .constants import WS_GUID

__all__ = ["IMPLEMENTATION", "accept_key", "canonical_key", "scan_fields", "scan_request_line", "valid_host"]

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

# The names of nearly every upgrade's fields, as clients and servers spell
# them: their strings (the name, and the lower-cased key that keeps its
# hash) are made once here instead of for each head.
_COMMON = (
    "Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
    "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol", "Sec-WebSocket-Accept", "Origin",
    "User-Agent", "Server", "Date", "Cookie", "Authorization", "Pragma", "Cache-Control",
    "Accept-Encoding", "Accept-Language", "Content-Length", "Content-Type", "X-Forwarded-For",
    "host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
    "sec-websocket-extensions", "sec-websocket-protocol", "sec-websocket-accept", "origin",
    "user-agent",
)
cdef enum:
    _NCOMMON = 31
assert len(_COMMON) == _NCOMMON
cdef tuple _COMMON_BYTES = tuple([name.encode() for name in _COMMON])
cdef tuple _COMMON_KEYS = tuple([name.lower() for name in _COMMON])
cdef const char *_common_name[_NCOMMON]
cdef Py_ssize_t _common_size[_NCOMMON]


cdef void _common_tables() noexcept:
    cdef Py_ssize_t i
    for i in range(_NCOMMON):
        _common_name[i] = <const char *>(<bytes>_COMMON_BYTES[i])
        _common_size[i] = len(<bytes>_COMMON_BYTES[i])


_common_tables()


cdef Py_ssize_t _common(const uint8_t *name, Py_ssize_t size) noexcept:
    """The index of ``name`` in ``_COMMON``, or -1."""
    cdef Py_ssize_t i
    for i in range(_NCOMMON):
        if _common_size[i] == size and _common_name[i][0] == name[0]:
            if memcmp(_common_name[i], name, size) == 0:
                return i
    return -1


def scan_fields(data, Py_ssize_t start, Py_ssize_t end, Py_ssize_t max_headers):
    """scan_fields(data, start, end, max_headers)
--

    The header lines of ``data[start:end]`` as ``(fields, index)``, or None.
    """
    _check_bytes("data", data)
    cdef const uint8_t *p = <bytes>data
    cdef Py_ssize_t i, name_start, name_end, value_start, value_end
    cdef Py_ssize_t count = 0, known
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
        known = _common(p + name_start, name_end - name_start)
        if known >= 0:
            name = _COMMON[known]
            key = _COMMON_KEYS[known]
        else:
            name = PyUnicode_DecodeLatin1(<const char *>p + name_start, name_end - name_start, NULL)
            key = _lower(p + name_start, name_end - name_start, name)
        value = PyUnicode_DecodeLatin1(<const char *>p + value_start, value_end - value_start, NULL)
        fields.append(name)
        fields.append(value)
        found = PyDict_GetItem(index, key)
        if found is NULL:
            index[key] = [value]
        else:
            (<list>found).append(value)
    return fields, index


cdef object _lower(const uint8_t *name, Py_ssize_t size, object as_sent):
    """The lower-cased name (a token: ASCII): ``as_sent`` itself when it has no capital."""
    cdef char small[64]
    cdef Py_ssize_t i
    for i in range(size):
        if 65 <= name[i] <= 90:  # "A" to "Z"
            break
    else:
        return as_sent
    if size > 64:
        return as_sent.lower()
    for i in range(size):
        small[i] = name[i] + 32 if 65 <= name[i] <= 90 else name[i]
    return PyUnicode_DecodeLatin1(small, size, NULL)


def scan_request_line(line):
    """scan_request_line(line)
--

    The target of ``GET <target> HTTP/1.1``, or None.
    """
    _check_bytes("line", line)
    cdef const uint8_t *p = <bytes>line
    cdef Py_ssize_t size = len(line), i
    # "GET /" and " HTTP/1.1": 14 bytes around the target's other bytes.
    if size < 14 or memcmp(p, b"GET /", 5) != 0 or memcmp(p + size - 9, b" HTTP/1.1", 9) != 0:
        return None
    for i in range(5, size - 9):
        if not 0x21 <= p[i] <= 0x7E:
            return None
    return PyUnicode_DecodeLatin1(<const char *>p + 4, size - 13, NULL)


# -- Sec-WebSocket-Accept: SHA-1 from hashlib (OpenSSL), base64 (RFC 4648 section 4) here

cdef const char *_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def accept_key(key):
    """accept_key(key)
--

    Base64 of the SHA-1 of ``key`` followed by the GUID of RFC 6455 section 1.3.
    """
    cdef uint8_t digest[21]
    cdef char out[28]
    cdef int i, j = 0
    cdef uint32_t group
    _check_str("key", key)
    cdef bytes data = _sha1_digest((key + WS_GUID).encode("latin-1")).digest()
    memcpy(digest, <const char *>data, 20)
    digest[20] = 0
    # 20 bytes: six groups of three, then two bytes and one "=".
    for i in range(0, 21, 3):
        group = (<uint32_t>digest[i] << 16) | (<uint32_t>digest[i + 1] << 8) | digest[i + 2]
        out[j] = _B64[(group >> 18) & 63]
        out[j + 1] = _B64[(group >> 12) & 63]
        out[j + 2] = _B64[(group >> 6) & 63]
        out[j + 3] = _B64[group & 63]
        j += 4
    out[27] = 61  # "="
    return PyUnicode_DecodeLatin1(out, 28, NULL)


# -- Sec-WebSocket-Key and Host

cdef inline bint _base64_char(Py_UCS4 c) noexcept:
    return (65 <= c <= 90) or (97 <= c <= 122) or (48 <= c <= 57) or c == 43 or c == 47


def canonical_key(key):
    """canonical_key(key)
--

    Whether ``key`` is the canonical base64 spelling of 16 bytes (what clients send).
    """
    _check_str("key", key)
    cdef str text = <str>key
    cdef Py_ssize_t i
    cdef Py_UCS4 c
    if len(text) != 24 or text[22] != "=" or text[23] != "=":
        return False
    for i in range(21):
        if not _base64_char(text[i]):
            return False
    c = text[21]
    return c == 65 or c == 81 or c == 103 or c == 119  # A, Q, g, w: four zero bits


cdef inline bint _reg_name_char(Py_UCS4 c) noexcept:
    # RFC 3986 unreserved, sub-delims and "%".
    if (65 <= c <= 90) or (97 <= c <= 122) or (48 <= c <= 57):
        return True
    return c < 128 and c in "-._~!$&'()*+,;=%"


cdef inline bint _ip_literal_char(Py_UCS4 c) noexcept:
    return (48 <= c <= 57) or (65 <= c <= 70) or (97 <= c <= 102) or c == 58 or c == 46


def valid_host(host):
    """valid_host(host)
--

    Whether ``host`` is ``uri-host [ ":" port ]``.
    """
    _check_str("host", host)
    cdef str text = <str>host
    cdef Py_ssize_t i = 0, n = len(text), start
    if n and text[0] == "[":
        i = 1
        while i < n and _ip_literal_char(text[i]):
            i += 1
        if i == 1 or i >= n or text[i] != "]":
            return False
        i += 1
    else:
        while i < n and _reg_name_char(text[i]):
            i += 1
    if i == n:
        return True
    if text[i] != ":":
        return False
    for start in range(i + 1, n):
        if not (48 <= text[start] <= 57):
            return False
    return True


cdef int _check_bytes(str name, object value) except -1:
    if type(value) is not bytes:
        raise TypeError(f"{name} must be bytes, not {type(value).__name__}")
    return 0


cdef int _check_str(str name, object value) except -1:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be str, not {type(value).__name__}")
    return 0
