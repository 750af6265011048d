"""Build script: metadata lives in setup.cfg; this file only provides ``ovd/.mim`` for openmim.

openmim runs ``mim train ovd CONFIG`` by finding ``tools/train.py`` and ``configs/`` inside the installed
package's ``.mim`` folder; ``ovd demo`` and ``ovd leaderboard`` read the sweep specs and the published results
from ``benchmarks/``. A wheel gets copies of the repository's ``configs/``, ``tools/`` and ``benchmarks/`` there, written
into the build directory (the source tree is left alone); an editable install (``pip install -e .``) gets
symlinks in the checkout's ``ovd/.mim`` so edits show up at once.
"""
import os
import shutil
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))
MIM_ITEMS = ('configs', 'tools', 'benchmarks')


class BuildPyWithMim(build_py):
    """``build_py`` that also copies configs/, tools/ and benchmarks/ into ``<build>/ovd/.mim`` for wheels."""

    def run(self) -> None:
        super().run()
        if getattr(self, 'editable_mode', False):
            return
        mim_dir = os.path.join(self.build_lib, 'ovd', '.mim')
        for item in MIM_ITEMS:
            dst = os.path.join(mim_dir, item)
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(os.path.join(ROOT, item), dst, ignore=shutil.ignore_patterns('__pycache__'))


def link_mim_folder_for_editable_install() -> None:
    if not any(arg in sys.argv for arg in ('develop', 'editable_wheel')):
        return
    mim_dir = os.path.join(ROOT, 'ovd', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for item in MIM_ITEMS:
        dst = os.path.join(mim_dir, item)
        if os.path.islink(dst) or os.path.isfile(dst):
            os.remove(dst)
        elif os.path.isdir(dst):
            shutil.rmtree(dst)
        os.symlink(os.path.relpath(os.path.join(ROOT, item), mim_dir), dst)


if __name__ == '__main__':
    link_mim_folder_for_editable_install()
    setup(cmdclass={'build_py': BuildPyWithMim})
