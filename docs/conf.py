"""Sphinx configuration of the fastws documentation.

Build it with ``make docs`` (``sphinx-build -W -n``: every warning is an
error and every cross-reference must resolve). There is no network at build
time: intersphinx reads Python's inventory from a local file (Debian's
``python3-doc``, or the path in ``FASTWS_PYTHON_INVENTORY``).
"""

from __future__ import annotations

import glob
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

# The reference documents the pure-Python codec twin: it carries the type
# hints of the contract (``_codec.pyi``) that the compiled twin satisfies,
# and the site must not depend on which twin the build machine compiled.
os.environ.pop("FASTWS_REQUIRE_EXTENSIONS", None)
os.environ["FASTWS_NO_EXTENSIONS"] = "1"
# autodoc imports fastws.integrations.auto, which installs the adapters on
# import: the build documents it and must not patch the libraries.
os.environ["FASTWS_INTEGRATIONS"] = "none"

import fastws  # noqa: E402

project = "fastws"
author = "fastws developers"
copyright = "fastws developers"
version = release = fastws.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "myst_parser",
    "fastws_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
# "--tls-cert" stays two hyphens, not an en dash; quotes stay straight.
smartquotes = False
templates_path: list[str] = []

# -- cross-references --------------------------------------------------------------

nitpicky = True
default_role = "py:obj"


def _python_inventory() -> str:
    given = os.environ.get("FASTWS_PYTHON_INVENTORY")
    if given:
        return given
    found = sorted(
        glob.glob("/usr/share/doc/python3*/html/objects.inv"),
        key=lambda p: [int(x) for x in Path(p).parts[-3].removeprefix("python").split(".") if x.isdigit()],
    )
    if not found:
        raise RuntimeError(
            "no local Python objects.inv: install Debian's python3-doc, or set "
            "FASTWS_PYTHON_INVENTORY to the path of Python's objects.inv (the build has no network)"
        )
    return found[-1]


intersphinx_mapping = {"python": ("https://docs.python.org/3", _python_inventory())}
intersphinx_timeout = 1

# Names that no inventory here can resolve: third-party libraries fastws
# adapts or talks to (their documentation is not installed locally), and
# the private helpers of type annotations that autodoc spells out.
nitpick_ignore_regex = [
    # third-party projects: no local inventory of their documentation
    (r"py:.*", r"(redis|aiohttp|tornado|websockets|wsproto|uvloop|uvicorn|isal|zlib_ng)(\..*)?"),
    # private helpers that signatures show (a private base class, a type
    # variable, an adapter's class) but that are no part of the API
    (r"py:.*", r"fastws(\.[a-z]\w*)*\._\w+(\..*)?"),
    (r"py:.*", r"fastws\.pings\.W"),
    # CPython 3.10 spells a type alias's tuple as builtins.tuple, which the
    # Python inventory lists as plain tuple
    (r"py:.*", r"builtins\.tuple"),
]

# -- autodoc -----------------------------------------------------------------------

autodoc_default_options = {
    "members": True,
    "undoc-members": True,
    "member-order": "bysource",
    "show-inheritance": True,
}
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_class_signature = "mixed"
autoclass_content = "both"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_preprocess_types = True
napoleon_attr_annotations = True
# "Attributes:" sections become fields of their class, not entries of their
# own: dataclass fields are documented once, as members.
napoleon_use_ivar = True

# -- MyST --------------------------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- HTML --------------------------------------------------------------------------

html_theme = "furo"
html_title = f"fastws {release}"
html_static_path = ["_static"]
html_last_updated_fmt = None
html_show_sphinx = False
html_copy_source = False
html_theme_options = {"navigation_with_keys": True}
