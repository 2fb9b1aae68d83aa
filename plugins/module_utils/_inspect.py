# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure-Python image format detection from header magic.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

qemu-img must never guess the format of data this collection did not create
(a raw guest disk can carry a qcow2 header that names a host file as its
backing file). This module reads the first bytes of a file itself and names
the format their magic declares, so that every qemu-img call can carry an
explicit ``-f``. It only looks at magic numbers; it does not parse or trust
any other header field.
"""

from __future__ import annotations

import struct

from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError

HEADER_BYTES = 512

# (offset, magic, format) checked in order; the first match wins.
_MAGICS = (
    (0, b'QFI\xfb', 'qcow'),  # version field decides between qcow and qcow2
    (0, b'QED\x00', 'qed'),
    (0, b'KDMV', 'vmdk'),
    (0, b'# Disk DescriptorFile', 'vmdk'),
    (0, b'vhdxfile', 'vhdx'),
    (0, b'conectix', 'vpc'),
    (0, b'LUKS\xba\xbe', 'luks'),
    (0, b'WithoutFreeSpace', 'parallels'),
    (0, b'WithouFreSpacExt', 'parallels'),
    (0, b'Bochs Virtual HD Image', 'bochs'),
    (0x40, struct.pack('<I', 0xBEDA107F), 'vdi'),
)

#: formats this module can recognise; a file of another format reads as raw
DETECTABLE_FORMATS = frozenset(name for offset, magic, name in _MAGICS) | frozenset(['qcow2'])


class InspectError(TaskError):
    """The file could not be read to find its format."""


def format_from_header(header):
    """Return the format that the magic in ``header`` (bytes) declares, else ``raw``."""
    for offset, magic, name in _MAGICS:
        if header[offset:offset + len(magic)] == magic:
            if name == 'qcow':
                version = struct.unpack('>I', header[4:8])[0] if len(header) >= 8 else 0
                return 'qcow2' if version in (2, 3) else 'qcow'
            return name
    return 'raw'


def detect_format(path):
    """Return the format of the image at ``path`` from its header magic."""
    try:
        with open(path, 'rb') as handle:
            header = handle.read(HEADER_BYTES)
    except OSError as exc:
        raise InspectError('Cannot read %s to find its format: %s. Run the task as a user that may read it (become), '
                           'or fix its owner and mode.' % (path, exc.strerror), path)
    return format_from_header(header)
