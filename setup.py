"""Build the optional Cython extensions: ``fastws._codec``, ``fastws._delivery``,
``fastws._upgrade`` and the compiled twins of the Python layers that have a
``.pxd`` beside them (``fastws.protocol`` and the others that
``fastws._layers`` lists).

``FASTWS_BUILD_EXTENSION``:
  * ``yes``: the extension must build; a compile error fails the build
    (used for wheels and CI, so a broken build cannot pass as pure);
  * ``no``: build a pure-Python package;
  * unset: try to build it and fall back to pure Python if it fails.

``FASTWS_NO_EXTENSIONS=1`` at install time means the same as ``no``.
``FASTWS_DEBUG_BUILD=1`` compiles without optimisation and with assertions;
``FASTWS_SANITIZE=1`` adds ``-fsanitize=address,undefined``.
"""

from __future__ import annotations

import glob
import os
import sys

from setuptools import setup

mode = os.environ.get("FASTWS_BUILD_EXTENSION", "").strip().lower()
if os.environ.get("FASTWS_NO_EXTENSIONS", "").strip().lower() not in ("", "0", "no", "false"):
    mode = "no"
if mode not in ("", "yes", "no"):
    sys.exit(f"FASTWS_BUILD_EXTENSION must be 'yes', 'no' or unset, not {mode!r}")
if sys.implementation.name != "cpython" and mode != "yes":
    mode = "no"


def extensions() -> list:
    if mode == "no":
        return []
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError:
        if mode == "yes":
            raise
        print("fastws: Cython is not available; building the pure-Python package")
        return []

    compile_args: list[str] = []
    link_args: list[str] = []
    macros: list[tuple[str, str | None]] = []
    if sys.platform == "win32":
        compile_args += ["/O2"]
    else:
        # -g0: no debug information (four fifths of each module's size);
        # FASTWS_DEBUG_BUILD and FASTWS_SANITIZE below bring it back.
        compile_args += ["-O3", "-fno-strict-aliasing", "-g0"]
        # A function called through a pointer of another type is undefined
        # behaviour (Cython makes one when a cpdef method of another class is
        # taken as a value): an error here, as GCC 14 makes it by default.
        compile_args += ["-Werror=incompatible-pointer-types"]
        if os.environ.get("FASTWS_DEBUG_BUILD"):
            compile_args = ["-O0", "-g", "-UNDEBUG"]
        if os.environ.get("FASTWS_SANITIZE"):
            sanitize = [
                "-fsanitize=address,undefined",
                "-fno-omit-frame-pointer",
                "-fno-sanitize-recover=undefined",
            ]
            compile_args += [*sanitize, "-g", "-O1"]
            link_args += sanitize
    sources = ["src/fastws/_codec.pyx", *sorted(glob.glob("src/fastws/_simd/*.c"))]
    codec = Extension(
        "fastws._codec",
        sources=sources,
        include_dirs=["src/fastws/_simd"],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
        define_macros=macros,
    )
    # The protocol's fast lane for whole messages; it cimports the codec's Frame.
    delivery = Extension(
        "fastws._delivery",
        sources=["src/fastws/_delivery.pyx"],
        include_dirs=["src/fastws/_simd"],  # _codec.pxd's FrameParser holds a struct of fastws_simd.h
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
    # The header lines of an HTTP head in one pass (the parsers' fast path).
    upgrade = Extension(
        "fastws._upgrade",
        sources=["src/fastws/_upgrade.pyx"],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
    # The Python layers compiled from their own source (fastws._layers): the
    # .pxd makes their classes extension types; their annotations are left
    # to type checkers, so the compiled twin accepts what the pure one does.
    layers = [
        Extension(
            path[len("src/") : -len(".py")].replace("/", "."),
            sources=[path],
            include_dirs=["src/fastws/_simd"],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        )
        for path in sorted(glob.glob("src/fastws/**/*.py", recursive=True))
        if os.path.exists(path[: -len(".py")] + ".pxd")
    ]
    try:
        modules = cythonize(
            [codec, delivery, upgrade],
            include_path=["src"],
            compiler_directives={"language_level": "3", "freethreading_compatible": True},
        )
        modules += cythonize(
            layers,
            include_path=["src"],
            compiler_directives={"language_level": "3", "annotation_typing": False},
        )
    except Exception:
        if mode == "yes":
            raise
        print("fastws: cythonize failed; building the pure-Python package")
        return []
    # cythonize() returns new Extension objects: mark them optional afterwards.
    for module in modules:
        module.optional = mode != "yes"
    return modules


setup(ext_modules=extensions())
