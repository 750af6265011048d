"""A killed atomic write leaves its hidden temporary file; the next write of the same output removes it, and
leaves alone the temporaries of live writers and of other outputs."""
import os
import signal
import socket
import subprocess
import sys
import time

from ovd.fileio import STALE_TMP_AFTER_S, atomic_write_text

# Writes a big output through atomic_write and is SIGKILLed half-way (the write callback never returns).
KILLED_WRITER = '''
import sys, time
from ovd.fileio import atomic_write
def write(f):
    f.write(b"x" * (1 << 20))
    f.flush()
    print("WRITING", flush=True)
    time.sleep(60)
atomic_write(sys.argv[1], write)
'''


def test_killed_write_leaves_a_tmp_that_the_next_write_removes(tmp_path, repo_root):
    out = tmp_path / 'table.csv'
    proc = subprocess.Popen([sys.executable, '-c', KILLED_WRITER, str(out)], stdout=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(repo_root)), text=True)
    assert proc.stdout.readline().strip() == 'WRITING'
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = list(tmp_path.glob('.table.csv.*.tmp'))
    assert len(left) == 1 and left[0].stat().st_size == 1 << 20 and not out.exists()

    live = tmp_path / f'.table.csv.{os.getppid()}@{socket.gethostname()}.live01.tmp'  # a live writer's
    legacy_old = tmp_path / '.table.csv.ab12cd34.tmp'  # pre-pid naming, untouched for longer than the bound
    legacy_new = tmp_path / '.table.csv.ef56gh78.tmp'  # pre-pid naming, recent: might still be written
    other = tmp_path / f'.other.csv.{2 ** 22 + 7}@{socket.gethostname()}.zz.tmp'  # another output's
    for path in (live, legacy_old, legacy_new, other):
        path.write_text('partial')
    old = time.time() - STALE_TMP_AFTER_S - 10
    os.utime(legacy_old, (old, old))

    atomic_write_text(out, 'a,b\n')
    assert out.read_text() == 'a,b\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ['table.csv', live.name, legacy_new.name, other.name])
