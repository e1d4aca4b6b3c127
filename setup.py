"""cffi needs setup.py for its out-of-line build (pyproject has no key for cffi_modules); the
build_ext compiles each runtime source with its ISA's flags (tinyedge/_runtime_build.py)."""
import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tinyedge._runtime_build import BuildExtWithIsaFlags  # noqa: E402

setup(cffi_modules=["tinyedge/_runtime_build.py:ffibuilder"], cmdclass={"build_ext": BuildExtWithIsaFlags})
