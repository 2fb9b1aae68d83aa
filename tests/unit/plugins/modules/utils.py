# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers to run modules in-process with a fake qemu-img that pins every argv."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess

from ansible_collections.hypervisor.images.tests.unit.plugins.fake_runner import FakeRunner

QEMU = '/usr/bin/qemu-img'
# The real qemu-img, which only makes the files the fake's commands would make.
REAL_QEMU = shutil.which('qemu-img') or QEMU


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super(ModuleExit, self).__init__(result)
        self.result = result
        self.failed = failed


def exit_json(self, **kwargs):
    kwargs.setdefault('changed', False)
    raise ModuleExit(kwargs, False)


def fail_json(self, msg, **kwargs):
    kwargs['msg'] = msg
    raise ModuleExit(kwargs, True)


class FakeQemuImg(FakeRunner):
    """Enough of qemu-img for decision tests: files carry real magic, sizes live in a dict.

    Each call is recorded as an argv; ``fail_next`` makes the next call fail,
    ``fail_on`` maps a subcommand to the (rc, stderr) it fails with.
    """

    MAGIC = {'qcow2': b'QFI\xfb' + struct.pack('>I', 3), 'raw': b''}

    def __init__(self):
        super(FakeQemuImg, self).__init__()
        self.sizes = {}
        self.fail_next = None
        self.measure_required = 4096
        self.compare_same = True
        self.fail_on = {}
        self.backing = {}
        self.snapshots = {}
        self.leaks = {}

    @staticmethod
    def key(path):
        # by inode, so that a size survives the rename of a temp file
        st = os.stat(path)
        return st.st_dev, st.st_ino

    def make(self, path, fmt, size, backing=None, backing_format=None):
        """A file the inspector reads as ``fmt``: a real qcow2 image (made by qemu-img), or a sparse raw file."""
        if fmt == 'qcow2':
            argv = [REAL_QEMU, 'create', '-q', '-f', 'qcow2']
            if backing:
                argv += ['-u', '-b', backing, '-F', backing_format]
            subprocess.run(argv + [path, str(max(size, 512))], check=True, stdout=subprocess.DEVNULL)
        else:
            with open(path, 'wb') as handle:
                handle.write(self.MAGIC[fmt].ljust(512, b'\0'))
                handle.truncate(max(size, 512))  # a sparse raw file of the virtual size, as qemu-img makes it
        self.sizes[self.key(path)] = size

    def answer(self, argv):
        if self.fail_next:
            rc, stderr = self.fail_next[0], self.fail_next[1]
            self.fail_next = None
            return rc, '', stderr
        command = argv[1]
        if command in self.fail_on:
            rc, stderr = self.fail_on[command]
            if command == 'convert':  # a half-written result, as a crash leaves it
                with open(argv[-1], 'wb') as handle:
                    handle.write(b'half')
            return rc, '', stderr
        if command in ('snapshot', 'check'):
            return self.answer_spec(command, argv)
        path = argv[argv.index('--') + 1]
        fmt = argv[argv.index('-f') + 1]
        if command == 'create':
            backing = argv[argv.index('-b') + 1] if '-b' in argv else None
            backing_format = argv[argv.index('-F') + 1] if backing else None
            resolved = os.path.join(os.path.dirname(path), backing) if backing else None
            size = int(argv[-1]) if argv[-1] != path else self.sizes[self.key(resolved)]
            self.make(path, fmt, size, backing=backing, backing_format=backing_format)
            if backing:
                self.backing[self.key(path)] = (backing, backing_format, os.path.normpath(resolved))
        elif command == 'resize':
            self.sizes[self.key(path)] = int(argv[-1])
            if fmt == 'raw':
                os.truncate(path, int(argv[-1]))
        elif command == 'convert':
            dest = argv[-1]
            self.make(dest, argv[argv.index('-O') + 1], self.sizes.get(self.key(argv[-2]), 0))
        elif command == 'measure':
            return 0, json.dumps({'required': self.measure_required, 'fully-allocated': 2 * self.measure_required}), ''
        elif command == 'compare':
            return 0 if self.compare_same else 1, '', ''
        elif command == 'info':
            header = open(path, 'rb').read(8)
            actual = 'qcow2' if header.startswith(b'QFI') else 'raw'
            if fmt != actual and fmt != 'raw':
                return 1, '', "qemu-img: Could not open '%s': Image is not in %s format" % (path, fmt)
            # raw: its length, rounded up to a sector as qemu-img reports it
            size = -(-os.path.getsize(path) // 512) * 512 if fmt == 'raw' else self.sizes.get(self.key(path))
            if size is None:  # an image the fake did not make: what its qcow2 header says
                size = struct.unpack('>Q', open(path, 'rb').read(32)[24:32])[0]
            info = {'filename': path, 'format': fmt, 'virtual-size': size,
                    'actual-size': 4096, 'dirty-flag': False}
            if self.key(path) in self.backing:
                recorded, backing_format, full = self.backing[self.key(path)]
                info.update({'backing-filename': recorded, 'backing-filename-format': backing_format,
                             'full-backing-filename': full})
            if self.snapshots.get(self.key(path)):
                info['snapshots'] = self.snapshots[self.key(path)]
            if fmt == 'qcow2':
                info['cluster-size'] = 65536
                info['format-specific'] = {'type': 'qcow2', 'data': {'compat': '1.1', 'lazy-refcounts': False}}
            if '--backing-chain' in argv:
                info = [info]
            return 0, json.dumps(info), ''
        return 0, '', ''

    def answer_spec(self, command, argv):
        """snapshot -c/-d and check [-r] on an image named by a json: specification."""
        spec = json.loads(argv[-1][len('json:'):])
        key = self.key(spec['file']['filename'])
        if command == 'check':
            leaks = self.leaks.get(key, 0)
            found = {'image-end-offset': 262144, 'total-clusters': 256, 'check-errors': 0,
                     'filename': argv[-1], 'format': spec['driver']}
            if leaks and '-r' in argv:
                found['leaks-fixed'] = leaks
                self.leaks[key] = 0
            elif leaks:
                found['leaks'] = leaks
            return 3 if leaks and '-r' not in argv else 0, json.dumps(found), ''
        snapshots = self.snapshots.setdefault(key, [])
        if '-c' in argv:
            number = max([int(snap['id']) for snap in snapshots] or [0]) + 1
            snapshots.append({'id': str(number), 'name': argv[argv.index('-c') + 1], 'vm-state-size': 0,
                              'date-sec': 1795304539 + number, 'date-nsec': 0, 'vm-clock-sec': 0,
                              'vm-clock-nsec': 0, 'icount': 0})
            return 0, '', ''
        name = argv[argv.index('-d') + 1]
        for snap in snapshots:
            if name in (snap['id'], snap['name']):
                snapshots.remove(snap)
                return 0, '', ''
        return 1, '', "qemu-img: Could not delete snapshot '%s': snapshot not found" % name

    def changing_calls(self):
        return [call for call in self.calls if call[1] != 'info' and not (call[1] == 'check' and '-U' in call)]
