# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a command that copies to DEST and kill the copy while it is under way.

Usage: kill_mid_copy.py DEST -- COMMAND [ARG...]

As soon as a temporary file of DEST (.NAME.XXXXXXXX.part beside it) holds
data, the process that holds DEST's lock file (.NAME.lock, found by its inode
in /proc/locks) gets SIGKILL: the copy dies between creating its temporary
file and renaming it. The module may run in a session of its own (Ansible's
workers do), so the lock, not the process group, says who to kill; the
command's own process group is killed afterwards.

Prints a JSON summary. Exits 0 after such a kill, 3 when the command ended
before it could be killed, 4 on a time-out.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time


def lock_holders(lock_path):
    """PIDs holding a flock on ``lock_path``, from /proc/locks."""
    try:
        st = os.stat(lock_path)
    except FileNotFoundError:
        return []
    wanted = '%02x:%02x:%d' % (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    pids = []
    with open('/proc/locks', encoding='ascii') as handle:
        for line in handle:
            fields = line.split()
            if '->' in fields or len(fields) < 6 or fields[1] != 'FLOCK':
                continue
            if fields[5] == wanted:
                pids.append(int(fields[4]))
    return pids


def kill_and_wait(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while os.path.exists('/proc/%d' % pid):
        try:
            with open('/proc/%d/stat' % pid, encoding='ascii') as handle:
                if handle.read().rsplit(')', 1)[1].split()[0] == 'Z':  # a zombie holds no files
                    return
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.01)


def main():
    dest = os.path.abspath(sys.argv[1])
    command = sys.argv[sys.argv.index('--') + 1:]
    directory, name = os.path.split(dest)
    pattern = os.path.join(glob.escape(directory), '.%s.*.part' % glob.escape(name))
    lock_path = os.path.join(directory, '.%s.lock' % name)
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    summary, code = None, 4
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            temps = [temp for temp in glob.glob(pattern) if os.path.exists(temp) and os.stat(temp).st_blocks]
            holders = lock_holders(lock_path) if temps else []
            if holders:
                for pid in holders:
                    kill_and_wait(pid)
                summary = {'killed': True, 'pids': holders, 'temp': temps[0]}
                code = 0
                break
            time.sleep(0.001)
        else:
            if proc.returncode is not None:
                summary = {'killed': False, 'rc': proc.returncode,
                           'msg': 'the command ended before a temporary file of %s held data' % dest}
                code = 3
            else:
                summary = {'killed': False, 'msg': 'timed out waiting for a temporary file of %s' % dest}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    print(json.dumps(summary))
    return code


if __name__ == '__main__':
    sys.exit(main())
