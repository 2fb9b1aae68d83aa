# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What is on a device: blkid and wipefs, and the size of the device.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

What is on a device is read with ``blkid -p`` (libblkid's low-level probe,
with no cache) and ``wipefs --no-act``; it is never guessed. Both come with
util-linux.
"""

from __future__ import annotations

import json
import os
import re

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import FsError, last_line

PACKAGE = 'util-linux'
BLKID_NOTHING = 2      # blkid: nothing was found
BLKID_AMBIVALENT = 8   # blkid: several signatures, it cannot tell which one is in use


def probe_argv(blkid, dev):
    return [blkid, '-p', '-c', '/dev/null', '-o', 'export', '--', dev]


def signatures_argv(wipefs, dev):
    return [wipefs, '--no-act', '--json', '--output', 'DEVICE,OFFSET,TYPE,USAGE,UUID,LABEL', '--', dev]


def wipe_argv(wipefs, dev, partition_table=False):
    """``wipefs --all``; ``--force`` is needed (and only given) to erase a partition table in an image file."""
    argv = [wipefs, '--all']
    if partition_table:
        argv.append('--force')
    return argv + ['--', dev]


def wipe(tools, dev, signatures, keep=()):
    """The command that erases ``signatures`` (as :func:`signatures` lists them) from ``dev``.

    With ``keep`` (blkid TYPE names), the command erases every signature but
    those of these types (``--types noTYPE,...``): run after mkfs made a new
    file system, it erases what mkfs left of the old ones and never the new
    one. None when every one of ``signatures`` is of a type in ``keep``.
    """
    partition_table = any(entry.get('usage') == 'partition-table' for entry in signatures)
    argv = wipe_argv(tools.path('wipefs', PACKAGE), dev, partition_table=partition_table)
    if keep:
        if all(entry.get('type') in keep for entry in signatures):
            return None
        argv[-2:-2] = ['--types', 'no' + ','.join(keep)]
    return argv


_EXPORT_ESCAPE = re.compile(r'\\(.)')


def parse_blkid_export(text):
    """``KEY=value`` lines of ``blkid -o export`` as a dict; blkid's backslash escapes are undone."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition('=')
        if not sep or not key:
            continue
        fields[key] = _EXPORT_ESCAPE.sub(lambda match: match.group(1), value)
    return fields


class Probe:
    """What ``blkid -p`` found on a device."""

    def __init__(self, fields=None, ambivalent=False):
        self.fields = dict(fields or {})
        self.ambivalent = ambivalent

    @property
    def type(self):
        return self.fields.get('TYPE')

    @property
    def label(self):
        return self.fields.get('LABEL')

    @property
    def uuid(self):
        return self.fields.get('UUID')

    @property
    def usage(self):
        return self.fields.get('USAGE')

    @property
    def pttype(self):
        return self.fields.get('PTTYPE')

    @property
    def empty(self):
        return not self.ambivalent and not self.type and not self.pttype

    def holds_only(self, fs):
        """Whether the device carries a file system of type ``fs`` and nothing else blkid sees."""
        return not self.ambivalent and self.type in fs.blkid_types and not self.pttype


def probe(tools, dev):
    """What blkid finds on ``dev``: a Probe."""
    result = tools.run(probe_argv(tools.path('blkid', PACKAGE), dev), 'blkid (probing %s)' % dev,
                       ok=(0, BLKID_NOTHING, BLKID_AMBIVALENT))
    if result.rc == BLKID_NOTHING:
        return Probe()
    if result.rc == BLKID_AMBIVALENT:
        return Probe(ambivalent=True)
    return Probe(parse_blkid_export(result.stdout))


def parse_signatures(text):
    """Signatures listed by ``wipefs --no-act --json``: dicts with offset, type, usage, uuid and label."""
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        raise FsError('wipefs printed output that is not JSON: %s' % last_line(text))
    signatures = []
    for entry in data.get('signatures') or []:
        signatures.append(dict((key, entry.get(key)) for key in ('offset', 'type', 'usage', 'uuid', 'label')))
    return signatures


def signatures(tools, dev):
    """Every signature wipefs finds on ``dev``."""
    result = tools.run(signatures_argv(tools.path('wipefs', PACKAGE), dev),
                       'wipefs --no-act (listing the signatures of %s)' % dev)
    return parse_signatures(result.stdout)


def describe_signatures(signatures):
    return ', '.join('%s at offset %s' % (entry['type'], entry['offset']) for entry in signatures) or 'none'


def device_size(path):
    """Size in bytes of a regular file or a block device."""
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)
