# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Leak clusters in a qcow2 image as an interrupted write does: drop its first L1 entry.

Usage: leak_clusters.py IMAGE. The first 64 KiB of the image must hold data, so
that the entry points to an L2 table and a data cluster; both stay allocated in
the refcount table while nothing refers to them any more (qemu-img check: 2
leaked clusters, rc 3).
"""

from __future__ import annotations

import struct
import sys

with open(sys.argv[1], 'r+b') as image:
    header = image.read(48)
    if header[:4] != b'QFI\xfb':
        sys.exit('%s is not a qcow2 image' % sys.argv[1])
    l1_table_offset = struct.unpack('>Q', header[40:48])[0]
    image.seek(l1_table_offset)
    image.write(b'\0' * 8)
