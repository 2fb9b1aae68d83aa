# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""File system probes shared by the modules.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.
"""

from __future__ import annotations

import os
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
