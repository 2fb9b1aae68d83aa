# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every image under a tree, in one pass: format, verdict, reasons, and the qemu-img check when asked.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

Each regular file is read by the pure-Python inspector (:mod:`._inspect`) and
its backing chain followed within the given roots, so qemu-img never opens a
file before it is known safe, and opens only safe ones (``qemu-img check``,
read-only, under the inspector's resource limits). What a file is:

* a leftover of this collection: a writer's temporary file (``.NAME.XXXXXXXX.part``),
  a lock file nobody holds, or a cache entry under the hidden name image_cache_prune
  gives it while it removes it (``.NAME.removing``), left by a killed run;
* not an image: a file with no image signature whose first KiB are text
  (Nova's ``disk.info``, ``console.log``, ``libvirt.xml``), an empty file, or a
  record sidecar (``.NAME.source.json``);
* an image: hostile when the verdict refuses it (a backing file outside the
  roots, a protocol or ``json:`` name, an external data file, ...), damaged
  when ``qemu-img check`` finds corruptions or cannot complete, else clean.
"""

from __future__ import annotations

import os
import stat

from ansible_collections.hypervisor.images.plugins.module_utils._atomic import leftover_of, lock_state
from ansible_collections.hypervisor.images.plugins.module_utils._identity import SIDECAR_SUFFIX
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import InspectError, inspect_chain
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import CHECKABLE, QemuImgError

#: how much of a file without an image signature is read to tell text from data
TEXT_PROBE = 1024
#: reason codes a tree audit accepts: an overlay on a base within the roots is what a host is made of; qcow2's
#: corrupt bit makes an image damaged, not hostile
ALLOWED = ('backing_file', 'corrupt')


def looks_like_text(path):
    """Whether the first KiB of ``path`` are text: UTF-8 without NUL, in lines or a JSON or XML document.

    A log, a config, libvirt's XML, Nova's disk.info; a raw disk starts with a
    boot sector, zeros or data without line breaks.
    """
    with open(path, 'rb') as handle:
        head = handle.read(TEXT_PROBE)
    if b'\0' in head:
        return False
    try:
        head.decode('utf-8')
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the probe
            return False
    return b'\n' in head or head.lstrip()[:1] in (b'{', b'[', b'<')


def is_sidecar(path):
    """Whether ``path`` is the source record this collection keeps beside an image (``.NAME.source.json``)."""
    name = os.path.basename(path)
    return name.startswith('.') and name.endswith(SIDECAR_SUFFIX)


class Audit(object):
    """The audit of the files under ``root``; ``roots`` are where backing files may lie."""

    def __init__(self, root, roots, qemu=None, check=False):
        self.root = root
        self.roots = roots
        self.qemu = qemu
        self.check = check
        self.images = []
        self.hostile = []
        self.damaged = []
        self.not_images = []
        self.leftovers = []
        self.unreadable = []

    def walk(self, recurse=True):
        for directory, dirnames, filenames in os.walk(self.root, onerror=self._walk_error):
            dirnames.sort()
            if not recurse:
                dirnames[:] = []
            for name in sorted(filenames):
                self.add(os.path.join(directory, name))
        return self

    def _walk_error(self, exc):
        self.unreadable.append({'path': exc.filename, 'reason': exc.strerror})

    def add(self, path):
        try:
            st = os.lstat(path)
        except OSError as exc:
            self.unreadable.append({'path': path, 'reason': exc.strerror})
            return
        if not stat.S_ISREG(st.st_mode):
            return
        leftover = leftover_of(path)
        if leftover:
            kind, dest = leftover
            if kind == 'lock' and lock_state(dest) != 'stale':
                return  # a lock a writer holds right now: a task at work, nothing left over
            if kind == 'removal' and lock_state(dest) == 'held':
                return  # an image_cache_prune removing it right now
            self.leftovers.append({'path': path, 'kind': kind, 'of': dest, 'size': st.st_size})
            return
        if st.st_size == 0 or is_sidecar(path):
            self.not_images.append(path)
            return
        try:
            chain = inspect_chain(path, self.roots, allow=ALLOWED, missing_ok=True)
        except InspectError as exc:
            self.unreadable.append({'path': path, 'reason': exc.msg})
            return
        image = chain[0]
        if image.format == 'raw' and not image.reasons and looks_like_text(path):
            self.not_images.append(path)
            return
        reasons = [dict(code=reason.code, message=reason.message, path=item.path)
                   for item in chain for reason in item.refusals(ALLOWED)]
        entry = {'path': path, 'format': image.format, 'qemu_format': image.qemu_format,
                 'virtual_size': image.virtual_size, 'actual_size': st.st_blocks * 512,
                 'backing_file': image.backing_file, 'safe': not reasons, 'reasons': reasons,
                 'verdict': 'hostile' if reasons else 'clean'}
        if reasons:
            self.hostile.append({'path': path, 'reasons': reasons})
        elif any(reason.code == 'corrupt' for reason in image.reasons):
            entry['verdict'] = 'damaged'
            self.damaged.append({'path': path, 'check': {'corrupt_bit': True}})
        elif self.check:
            if image.qemu_format in CHECKABLE:
                self.run_check(entry)
            else:
                entry['check'] = None  # raw and the like have no metadata qemu-img could check
        self.images.append(entry)

    def run_check(self, entry):
        try:
            found = self.qemu.check(entry['path'], entry['qemu_format'])
        except QemuImgError as exc:
            entry['check'] = {'error': exc.msg}
        else:
            found.pop('cmd', None)
            entry['check'] = found
        check = entry['check']
        if check.get('error') or check.get('corruptions') or check.get('check_errors'):
            entry['verdict'] = 'damaged'
            self.damaged.append({'path': entry['path'], 'check': check})

    def summary(self):
        return {'images': len(self.images), 'hostile': len(self.hostile), 'damaged': len(self.damaged),
                'clean': len(self.images) - len(self.hostile) - len(self.damaged),
                'not_images': len(self.not_images), 'leftovers': len(self.leftovers),
                'unreadable': len(self.unreadable)}
