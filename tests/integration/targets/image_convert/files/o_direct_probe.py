# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tell whether files in DIR can be written with O_DIRECT, independently of the modules.

Usage: o_direct_probe.py DIR

Opens a new file in DIR with O_DIRECT, writes one page from a page-aligned
buffer and removes the file. Prints the cache mode that cache_mode auto must
pick there: ``none`` when that worked, ``writeback`` when the file system
refused O_DIRECT (EINVAL). Any other error is raised.
"""

from __future__ import annotations

import errno
import mmap
import os
import sys


def main():
    path = os.path.join(sys.argv[1], '.o_direct_probe.%d' % os.getpid())
    page = mmap.mmap(-1, 4096)  # anonymous mappings are page-aligned
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_DIRECT, 0o600)
        try:
            os.write(fd, page)
        finally:
            os.close(fd)
        print('none')
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        print('writeback')
    finally:
        page.close()
        if os.path.exists(path):
            os.unlink(path)


if __name__ == '__main__':
    main()
