"""cffi needs setup.py for its out-of-line build (pyproject has no key for cffi_modules); the
build_ext compiles each runtime source with its ISA's flags (tinyedge/_runtime_build.py).

build_py also copies the repository's top-level boards/*.toml and runtime_c/ into the package as
tinyedge/_data/ (tinyedge/resources.py finds them there): an installed tinyedge needs the board
files and the runtime's sources to cross-build the runner. Inside the package they are found from
the package itself; a wheel's data-files land wherever the install scheme puts its data (the
prefix, the user base, a --target folder), which the package cannot reliably work out.
MANIFEST.in puts both folders in the sdist, so a wheel built from the sdist has them too.
"""
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import FileError

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from tinyedge._runtime_build import BuildExtWithIsaFlags  # noqa: E402
from tinyedge.resources import BOARDS, RUNTIME  # noqa: E402


def data_files() -> dict:
    """The files copied into the package: their path under tinyedge/_data/ -> the source file.
    Hidden files and folders are left out (the cross-build cache key leaves them out too)."""
    def visible(p: Path) -> bool:
        return p.is_file() and not any(part.startswith(".") for part in p.relative_to(HERE).parts)

    files = sorted((HERE / BOARDS).glob("*.toml")) + sorted((HERE / RUNTIME).rglob("*"))
    return {p.relative_to(HERE).as_posix(): p for p in files if visible(p)}


class BuildPyWithData(build_py):
    """setuptools' build_py, plus data_files() copied to <build_lib>/tinyedge/_data/. An editable
    install copies nothing: it reads the checkout's own boards/ and runtime_c/."""

    def _data_targets(self) -> dict:
        return {str(Path(self.build_lib, "tinyedge", "_data", rel)): src
                for rel, src in data_files().items()}

    def run(self):
        super().run()
        if self.editable_mode:
            return
        files = data_files()
        for folder in (BOARDS, RUNTIME):
            if not any(rel.startswith(f"{folder}/") for rel in files):
                raise FileError(f"{HERE / folder}: missing or empty, but the wheel must carry it "
                                f"(an sdist made without MANIFEST.in?)")
        for target, src in self._data_targets().items():
            self.mkpath(str(Path(target).parent))
            self.copy_file(str(src), target, preserve_mode=False)

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        return outputs if self.editable_mode else outputs + list(self._data_targets())


setup(cffi_modules=["tinyedge/_runtime_build.py:ffibuilder"],
      cmdclass={"build_ext": BuildExtWithIsaFlags, "build_py": BuildPyWithData})
