"""cffi needs setup.py for its out-of-line build (pyproject has no key for cffi_modules)."""
from setuptools import setup

setup(cffi_modules=["tinyedge/_runtime_build.py:ffibuilder"])
