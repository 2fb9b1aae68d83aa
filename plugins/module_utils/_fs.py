# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""File system probes shared by the modules.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.
"""

from __future__ import annotations

import errno
import mmap
import os
import re
import stat

MISSING = 'missing'
FILE = 'file'
DIRECTORY = 'directory'
BLOCK_DEVICE = 'block device'
CHAR_DEVICE = 'character device'
OTHER = 'special file'


def path_kind(path):
    """Return what ``path`` is (symbolic links followed): one of the constants above."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return MISSING
    if stat.S_ISREG(mode):
        return FILE
    if stat.S_ISDIR(mode):
        return DIRECTORY
    if stat.S_ISBLK(mode):
        return BLOCK_DEVICE
    if stat.S_ISCHR(mode):
        return CHAR_DEVICE
    return OTHER


def default_file_mode():
    """The mode a new file gets from the process umask (0o644 under umask 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def nearest_existing(path):
    """``path`` itself if it exists, else its nearest existing parent directory."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def direct_io_supported(directory):
    """Whether files in ``directory`` can be opened with O_DIRECT.

    Nova's probe: open a uniquely named file with O_DIRECT and write one page
    from a page-aligned buffer. EINVAL (the file system refuses O_DIRECT) and
    ENOENT mean no; the probe file is always removed. Other errors (no
    permission, say) are raised.
    """
    o_direct = getattr(os, 'O_DIRECT', None)
    if o_direct is None:
        return False
    probe = os.path.join(directory, '.hvimg-directio-probe.%d.%s' % (os.getpid(), os.urandom(4).hex()))
    fd = None
    buf = mmap.mmap(-1, 4096)  # anonymous mappings are page-aligned, as O_DIRECT needs
    try:
        buf.write(b'\0' * 4096)
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY | o_direct | getattr(os, 'O_CLOEXEC', 0), 0o600)
        os.write(fd, buf)
        return True
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOENT):
            return False
        raise
    finally:
        buf.close()
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(probe)
        except OSError:
            pass


def fs_usage(path):
    """Sizes of the file system that holds ``path`` (or its nearest existing parent), in bytes.

    ``free`` is what unprivileged users may still use (f_bavail); ``used`` is
    blocks minus free blocks, as Nova's get_fs_info computes it.
    """
    st = os.statvfs(nearest_existing(path))
    return {
        'total': st.f_frsize * st.f_blocks,
        'free': st.f_frsize * st.f_bavail,
        'used': st.f_frsize * (st.f_blocks - st.f_bfree),
    }


MOUNTINFO = '/proc/self/mountinfo'
_OCTAL_ESCAPE = re.compile(r'\\([0-7]{3})')


def unescape_octal(field):
    """Paths in /proc files (mountinfo, swaps) escape space, tab, newline and backslash as octal."""
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def parse_mountinfo(text):
    """Entries of a /proc/PID/mountinfo text, in order, as dicts.

    Each has ``mount_point``, ``device`` (the mount source, for example
    ``/dev/vda1``, ``tmpfs`` or ``overlay``), ``fstype`` and ``dev`` (the
    ``major:minor`` field). Lines that cannot be read are skipped.
    """
    entries = []
    for line in text.splitlines():
        fields = line.split(' ')
        try:
            separator = fields.index('-', 6)
        except ValueError:
            continue
        if len(fields) < separator + 3:
            continue
        entries.append({
            'mount_point': unescape_octal(fields[4]),
            'dev': fields[2],
            'fstype': fields[separator + 1],
            'device': unescape_octal(fields[separator + 2]),
        })
    return entries


def _is_under(path, mount_point):
    if mount_point == '/':
        return path.startswith('/')
    return path == mount_point or path.startswith(mount_point.rstrip('/') + '/')


def mount_of(path, mountinfo=MOUNTINFO):
    """The mount that holds ``path`` (or its nearest existing parent).

    Returns a dict with ``mount_point``, ``device`` and ``fstype``: the entry of
    ``mountinfo`` with the longest mount point that contains the resolved path,
    the last one when a mount point was mounted over. All three are ``None``
    when the mount table cannot be read (not Linux, no /proc).
    """
    target = os.path.realpath(nearest_existing(path))
    try:
        with open(mountinfo, encoding='utf-8', errors='surrogateescape') as handle:
            entries = parse_mountinfo(handle.read())
    except OSError:
        entries = []
    best = None
    for entry in entries:
        if _is_under(target, entry['mount_point']):
            if best is None or len(entry['mount_point']) >= len(best['mount_point']):
                best = entry
    if best is None:
        return {'mount_point': None, 'device': None, 'fstype': None}
    return {'mount_point': best['mount_point'], 'device': best['device'], 'fstype': best['fstype']}
