"""fastws' own conformance suite (RFC 6455), in the manner of Autobahn|Testsuite.

See README.md in this directory.
"""
