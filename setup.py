"""Build script: metadata lives in setup.cfg; this file only lays out ``ovd/.mim`` for openmim.

openmim runs ``mim train ovd CONFIG`` by finding ``tools/train.py`` and ``configs/`` inside the installed
package's ``.mim`` folder. For an editable install (``pip install -e .``) the folder holds symlinks to the
repository's ``configs/`` and ``tools/`` so edits show up at once; for a wheel it holds copies.
"""
import os
import shutil
import sys

from setuptools import setup

MIM_ITEMS = ('configs', 'tools')


def _is_editable_install() -> bool:
    return any(arg in sys.argv for arg in ('develop', 'editable_wheel')) or \
        os.environ.get('PEP517_BUILD_BACKEND_EDITABLE') == '1'


def lay_out_mim_folder() -> None:
    root = os.path.dirname(os.path.abspath(__file__))
    mim_dir = os.path.join(root, 'ovd', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    symlink = _is_editable_install()
    for item in MIM_ITEMS:
        src = os.path.join(root, item)
        dst = os.path.join(mim_dir, item)
        if os.path.islink(dst) or os.path.isfile(dst):
            os.remove(dst)
        elif os.path.isdir(dst):
            shutil.rmtree(dst)
        if symlink:
            os.symlink(os.path.relpath(src, mim_dir), dst)
        else:
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__'))


if __name__ == '__main__':
    lay_out_mim_folder()
    setup()
