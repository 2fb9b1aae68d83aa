# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one place that builds qemu-img command lines and reads their output.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

Rules every call follows:

* argv lists, never a shell; the C locale; ``--`` before positional paths so
  a path can never be read as an option;
* an explicit input format (``-f``) on every call: qemu-img never guesses
  (callers that do not know the format ask :mod:`._inspect` first);
* ``--output=json`` wherever qemu-img offers it;
* ``info`` and ``measure`` read image headers, which may be hostile: they run
  with ``-U`` (force-share, so images in use can be read) and under resource
  limits (address space and CPU seconds; 1 GiB and 30 s by default, as Nova
  has done since CVE-2015-5162).
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import os
import re
import signal
import stat
import struct

from ansible_collections.hypervisor.images.plugins.module_utils._inspect import detect_format
from ansible_collections.hypervisor.images.plugins.module_utils._run import (
    GiB,
    CommandError,
    ResourceLimits,
    find_tool,
    last_line,
    run_command,
)

#: where qemu-img comes from, for the message when it is missing
PACKAGE = 'qemu-utils (Debian, Ubuntu) or qemu-img (Fedora, RHEL, CentOS)'

#: the image formats the modules create, convert to and accept as declared formats
FORMATS = ('raw', 'qcow2', 'qed', 'vdi', 'vhdx', 'vmdk', 'vpc')
#: output formats for which ``qemu-img convert -c`` compresses
COMPRESSIBLE = ('qcow2', 'qcow')
#: the cache modes (``-t``) the conversion modules write with
CACHE_MODES = ('none', 'writeback', 'unsafe')

DEFAULT_INFO_LIMITS = ResourceLimits(address_space=1 * GiB, cpu_time=30)


class QemuImgError(CommandError):
    """A qemu-img call failed; ``path`` is the image it was about."""


class ImageNotFoundError(QemuImgError):
    """The image (or a file it needs) does not exist."""


class WrongFormatError(QemuImgError):
    """The image is not in the format it was declared to be in."""


class CommandFailedError(QemuImgError):
    """qemu-img ran and failed for another reason."""


class NoSpaceError(CommandFailedError):
    """The file system ran out of space."""


class ResourceLimitError(CommandFailedError):
    """qemu-img was stopped by its resource limits."""


class ImageInUseError(QemuImgError):
    """Another process (a running VM, qemu-nbd, qemu-io) holds the image's lock."""


def other_file_options(fmt, options):
    """Messages for the creation ``options`` that would make qemu-img write or read a file besides the image.

    An external data file (``data_file``) is created or overwritten by
    qemu-img wherever it points, outside the temporary file and the lock of
    the module; a backing file is read into every guest; a VMDK subformat
    other than a one-file one writes its extents beside the image.
    """
    problems = []
    for key in sorted(options):
        name = str(key).strip().lower().replace('-', '_')
        if name in ('data_file', 'data_file_raw'):
            problems.append('%s names an external data file, which qemu-img would create or overwrite wherever it '
                            'points, outside the image; external data files are not supported' % key)
        elif name == 'backing_file':
            problems.append('%s names a backing file; make overlays with hypervisor.images.cow_image' % key)
        elif name == 'subformat' and fmt == 'vmdk' and options[key] not in VMDK_ONE_FILE_SUBFORMATS:
            problems.append('%s=%s writes the data into extent files beside the image; use %s'
                            % (key, options[key], ' or '.join(VMDK_ONE_FILE_SUBFORMATS)))
    return problems


def has_protocol(name):
    """Whether qemu reads ``name`` as a protocol (``nbd:host``, ``file:x``, ``json:{...}``), not as a file name.

    qemu takes what comes before the first colon as a protocol when that
    colon comes before any slash.
    """
    colon, slash = name.find(':'), name.find('/')
    return colon >= 0 and (slash < 0 or colon < slash)


def encode_options(options):
    """Return the ``-o`` argument for a dict of creation options.

    Keys are sorted for a stable command line; booleans become on/off; commas
    inside values are doubled, which is how qemu escapes them.
    """
    parts = []
    for key in sorted(options):
        value = options[key]
        key = str(key)
        if not key or ',' in key or '=' in key or key != key.strip():
            raise ValueError('Invalid qemu-img option name %r: names must be non-empty and contain '
                             'no commas, equal signs or surrounding spaces' % key)
        if value is None:
            continue
        if isinstance(value, bool):
            value = 'on' if value else 'off'
        parts.append('%s=%s' % (key, str(value).replace(',', ',,')))
    return ','.join(parts)


#: VMDK subformats that keep all their data in the one file
VMDK_ONE_FILE_SUBFORMATS = ('monolithicSparse', 'streamOptimized')

#: formats whose images can name a backing file (the ``backing`` option of their driver)
BACKING_FORMATS = ('qcow2', 'qed', 'vmdk', 'qcow')
#: formats ``qemu-img check`` can check
CHECKABLE = ('qcow2', 'qed', 'vdi', 'vhdx', 'vmdk', 'vpc', 'parallels')
#: what ``qemu-img check --output=json`` reports, by the names the modules return
CHECK_KEYS = ('corruptions', 'leaks', 'check_errors', 'image_end_offset', 'fragmented_clusters',
              'allocated_clusters', 'total_clusters', 'corruptions_fixed', 'leaks_fixed')
# qemu-img check: 0 clean, 2 corruptions, 3 leaked clusters (1: the check could not be completed)
CHECK_FOUND = (0, 2, 3)

_IN_USE_RE = re.compile(r'Failed to get "\w+" lock|Failed to get shared "\w+" lock')
_WRONG_FORMAT_RE = re.compile(r"Image is not in \S+ format|is not a \S+ image|Unknown format|"
                              r"Unknown driver|bad magic|Invalid image format", re.IGNORECASE)


def _snake(key):
    return key.replace('-', '_')


def snake_keys(value):
    """Return ``value`` with every dict key's dashes turned into underscores."""
    if isinstance(value, dict):
        return dict((_snake(k), snake_keys(v)) for k, v in value.items())
    if isinstance(value, list):
        return [snake_keys(v) for v in value]
    return value


def normalize_info(data):
    """Turn one ``qemu-img info --output=json`` object into the facts modules return."""
    specific = snake_keys(data.get('format-specific') or {})
    specific_data = specific.get('data') or {}
    snapshots = []
    for snap in data.get('snapshots') or []:
        snap = snake_keys(snap)
        if 'date_sec' in snap:
            snap['date'] = datetime.datetime.fromtimestamp(snap['date_sec'], datetime.timezone.utc).strftime(
                '%Y-%m-%dT%H:%M:%SZ')
        snapshots.append(snap)
    return {
        'path': data.get('filename'),
        'format': data.get('format'),
        'virtual_size': data.get('virtual-size'),
        'actual_size': data.get('actual-size'),
        'cluster_size': data.get('cluster-size'),
        'backing_file': data.get('backing-filename'),
        'full_backing_file': data.get('full-backing-filename'),
        'backing_format': data.get('backing-filename-format'),
        'data_file': specific_data.get('data_file'),
        'encrypted': bool(data.get('encrypted', False)),
        'dirty': bool(data.get('dirty-flag', False)),
        'snapshots': snapshots,
        'format_specific': specific,
    }


class QemuImg:
    """Builds and runs qemu-img command lines.

    ``runner`` is called as ``runner(argv, limits)`` and returns a
    :class:`CommandResult`; tests replace it to pin exact command lines.
    """

    def __init__(self, binary=None, runner=None, info_limits=DEFAULT_INFO_LIMITS):
        self.binary = binary or find_tool('qemu-img', PACKAGE)
        self.runner = runner or run_command
        self.info_limits = info_limits

    # -- running -------------------------------------------------------

    def _run(self, argv, what, path=None, limits=None):
        result = self.runner(argv, limits)
        if result.rc != 0:
            raise self._error(result, what, path, limits)
        return result

    @staticmethod
    def _error(result, what, path, limits):
        where = ' for %s' % path if path else ''
        summary = last_line(result.stderr)
        kwargs = dict(cmd=result.cmd, rc=result.rc, stdout=result.stdout, stderr=result.stderr, path=path)
        if limits is not None and result.rc in (-signal.SIGXCPU, -signal.SIGKILL, -signal.SIGABRT,
                                                -signal.SIGSEGV):
            return ResourceLimitError(
                'qemu-img %s%s was stopped by its resource limits (%s): the image header may be '
                'corrupt or hostile. Inspect the file by hand before trusting it.'
                % (what, where, limits.describe()), **kwargs)
        if _IN_USE_RE.search(result.stderr):
            return ImageInUseError(in_use_message(path, what), **kwargs)
        if 'No such file or directory' in result.stderr:
            return ImageNotFoundError('qemu-img %s%s: a file does not exist: %s' % (what, where, summary), **kwargs)
        if 'No space left on device' in result.stderr:
            return NoSpaceError('qemu-img %s%s ran out of space: %s' % (what, where, summary), **kwargs)
        if _WRONG_FORMAT_RE.search(result.stderr):
            return WrongFormatError('qemu-img %s%s: %s' % (what, where, summary), **kwargs)
        return CommandFailedError('qemu-img %s%s failed (rc=%s): %s' % (what, where, result.rc, summary), **kwargs)

    def _run_json(self, argv, what, path=None, limits=None):
        result = self._run(argv, what, path=path, limits=limits)
        try:
            return json.loads(result.stdout)
        except ValueError:
            raise CommandFailedError(
                'qemu-img %s%s printed output that is not JSON' % (what, ' for %s' % path if path else ''),
                cmd=result.cmd, rc=result.rc, stdout=result.stdout, stderr=result.stderr, path=path)

    @staticmethod
    def _require_format(fmt, what):
        if not fmt:
            raise ValueError('qemu-img %s needs an explicit format: never let qemu-img guess' % what)

    @staticmethod
    def image_spec(path, fmt):
        """An image named so that qemu-img opens exactly ``path`` as ``fmt`` and nothing else.

        For commands that take no ``-f`` (snapshot) or that would open the
        backing chain (check, snapshot): a ``json:`` specification with the
        format as driver, the path as a plain file (never read as a protocol)
        and, for formats that have one, no backing file.
        """
        spec = {'driver': fmt, 'file': {'driver': 'host_device' if _is_block_device(path) else 'file',
                                        'filename': path}}
        if fmt in BACKING_FORMATS:
            spec['backing'] = None
        return 'json:' + json.dumps(spec, sort_keys=True)

    @staticmethod
    def _options_args(options):
        encoded = encode_options(options) if options else ''
        return ['-o', encoded] if encoded else []

    @staticmethod
    def _snapshot_args(snapshot):
        if snapshot is None:
            return []
        return ['-l', 'snapshot.name=%s' % snapshot.replace(',', ',,')]

    # -- command lines ---------------------------------------------------
    # Each *_argv method returns the whole argv; the method without the
    # suffix runs it. Check mode reports the argv without running it.

    def info_argv(self, path, fmt, backing_chain=False, force_share=True):
        self._require_format(fmt, 'info')
        argv = [self.binary, 'info', '--output=json']
        if force_share:
            argv.append('-U')
        if backing_chain:
            argv.append('--backing-chain')
        return argv + ['-f', fmt, '--', path]

    def info(self, path, fmt, backing_chain=False, force_share=True):
        """Return the parsed JSON of ``qemu-img info`` (a list with ``backing_chain``)."""
        argv = self.info_argv(path, fmt, backing_chain=backing_chain, force_share=force_share)
        return self._run_json(argv, 'info', path=path, limits=self.info_limits)

    def create_argv(self, path, fmt, size=None, backing_file=None, backing_format=None, options=None):
        self._require_format(fmt, 'create')
        argv = [self.binary, 'create', '-q', '-f', fmt]
        if backing_file is not None:
            self._require_format(backing_format, 'create -b')
            argv += ['-b', backing_file, '-F', backing_format]
        argv += self._options_args(options)
        argv += ['--', path]
        if size is not None:
            argv.append(str(int(size)))
        return argv

    def create(self, path, fmt, size=None, backing_file=None, backing_format=None, options=None):
        argv = self.create_argv(path, fmt, size=size, backing_file=backing_file, backing_format=backing_format,
                                options=options)
        return self._run(argv, 'create', path=path)

    def resize_argv(self, path, fmt, size, shrink=False, preallocation=None):
        self._require_format(fmt, 'resize')
        argv = [self.binary, 'resize', '-q', '-f', fmt]
        if preallocation:
            argv.append('--preallocation=%s' % preallocation)
        if shrink:
            argv.append('--shrink')
        return argv + ['--', path, str(int(size))]

    def resize(self, path, fmt, size, shrink=False, preallocation=None):
        argv = self.resize_argv(path, fmt, size, shrink=shrink, preallocation=preallocation)
        return self._run(argv, 'resize', path=path)

    def convert_argv(self, src, dest, src_format, dest_format, cache_mode='none', src_cache_mode=None,
                     compress=False, options=None, parallel=None, out_of_order=False, snapshot=None):
        self._require_format(src_format, 'convert')
        self._require_format(dest_format, 'convert -O')
        argv = [self.binary, 'convert', '-q', '-f', src_format] + self._snapshot_args(snapshot)
        argv += ['-O', dest_format, '-t', cache_mode]
        if src_cache_mode:
            argv += ['-T', src_cache_mode]
        if compress:
            argv.append('-c')
        argv += self._options_args(options)
        if parallel:
            argv += ['-m', str(int(parallel))]
        if out_of_order:
            argv.append('-W')
        return argv + ['--', src, dest]

    def convert(self, src, dest, src_format, dest_format, **kwargs):
        argv = self.convert_argv(src, dest, src_format, dest_format, **kwargs)
        return self._run(argv, 'convert', path=src)

    def measure_argv(self, src, src_format, dest_format, options=None, snapshot=None):
        self._require_format(src_format, 'measure')
        self._require_format(dest_format, 'measure -O')
        argv = [self.binary, 'measure', '--output=json', '-f', src_format] + self._snapshot_args(snapshot)
        argv += ['-O', dest_format] + self._options_args(options)
        return argv + ['--', src]

    def measure(self, src, src_format, dest_format, options=None, snapshot=None):
        """Return ``{'required': N, 'fully-allocated': N}`` for converting ``src``."""
        argv = self.measure_argv(src, src_format, dest_format, options=options, snapshot=snapshot)
        return self._run_json(argv, 'measure', path=src, limits=self.info_limits)

    def rebase_argv(self, path, backing_file, backing_format, unsafe=False, fmt='qcow2'):
        self._require_format(fmt, 'rebase')
        self._require_format(backing_format, 'rebase -F')
        argv = [self.binary, 'rebase', '-q', '-f', fmt]
        if unsafe:
            argv.append('-u')
        return argv + ['-F', backing_format, '-b', backing_file, '--', path]

    def rebase(self, path, backing_file, backing_format, unsafe=False, fmt='qcow2'):
        argv = self.rebase_argv(path, backing_file, backing_format, unsafe=unsafe, fmt=fmt)
        return self._run(argv, 'rebase', path=path)

    def compare_argv(self, first, second, first_format, second_format, strict=False):
        self._require_format(first_format, 'compare')
        self._require_format(second_format, 'compare -F')
        argv = [self.binary, 'compare', '-q', '-f', first_format, '-F', second_format]
        if strict:
            argv.append('-s')
        return argv + ['--', first, second]

    def compare(self, first, second, first_format, second_format, strict=False):
        """Return True when both images hold the same guest-visible data."""
        argv = self.compare_argv(first, second, first_format, second_format, strict=strict)
        result = self.runner(argv, None)
        if result.rc in (0, 1):
            return result.rc == 0
        raise self._error(result, 'compare', first, None)

    def snapshot_argv(self, path, fmt, create=None, delete=None):
        """``qemu-img snapshot -c NAME`` or ``-d NAME``: written into the image, so never with ``-U``."""
        self._require_format(fmt, 'snapshot')
        action = ['-c', create] if create is not None else ['-d', delete]
        return [self.binary, 'snapshot', '-q'] + action + [self.image_spec(path, fmt)]

    def snapshot(self, path, fmt, create=None, delete=None):
        argv = self.snapshot_argv(path, fmt, create=create, delete=delete)
        return self._run(argv, 'snapshot', path=path)

    def check_argv(self, path, fmt, repair=None):
        """``qemu-img check``: read-only with ``-U`` under the limits, or with ``-r leaks|all`` (no ``-U``)."""
        self._require_format(fmt, 'check')
        argv = [self.binary, 'check', '--output=json']
        argv += ['-r', repair] if repair else ['-U']
        return argv + [self.image_spec(path, fmt)]

    def check(self, path, fmt, repair=None):
        """What ``qemu-img check`` found (and with ``repair``, fixed): a dict of CHECK_KEYS."""
        argv = self.check_argv(path, fmt, repair=repair)
        what = 'check -r %s' % repair if repair else 'check'
        result = self.runner(argv, None if repair else self.info_limits)
        if result.rc not in CHECK_FOUND:
            raise self._error(result, what, path, None if repair else self.info_limits)
        try:
            data = snake_keys(json.loads(result.stdout))
        except ValueError:
            raise CommandFailedError('qemu-img %s for %s printed output that is not JSON' % (what, path),
                                     cmd=result.cmd, rc=result.rc, stdout=result.stdout, stderr=result.stderr,
                                     path=path)
        found = dict((key, data.get(key, 0)) for key in CHECK_KEYS)
        found['cmd'] = result.cmd
        return found


# qemu takes open file description locks on bytes 100 to 299 of every image
# (and device) it opens: a shared lock per permission it uses or does not share.
QEMU_LOCK_START = 100
QEMU_LOCK_LENGTH = 200
F_OFD_GETLK = getattr(fcntl, 'F_OFD_GETLK', 36)
_FLOCK = 'hhqqi4x'  # struct flock on 64-bit Linux: type, whence, start, len, pid


def qemu_lock_held(path):
    """Whether a process holds qemu's image locks on ``path`` (a running VM, qemu-nbd, qemu-img).

    Asks the kernel whether a write lock on qemu's lock bytes would conflict
    (F_OFD_GETLK), which takes no lock. False where the kernel cannot tell.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    try:
        request = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, QEMU_LOCK_START, QEMU_LOCK_LENGTH, 0)
        try:
            answer = fcntl.fcntl(fd, F_OFD_GETLK, request)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                return False
            raise
        return struct.unpack(_FLOCK, answer)[0] != fcntl.F_UNLCK
    finally:
        os.close(fd)


def in_use_message(path, what):
    """Why qemu-img ``what`` must not write into ``path``, which another qemu process holds open."""
    return ('%s is in use: another process (a running virtual machine, qemu-nbd or qemu-io) holds its image lock, and '
            'qemu-img %s would write into it. Stop that process, or work through it (for a running virtual machine, '
            'virsh snapshot-create or blockcommit), then run the task again. Nothing was changed.' % (path, what))


def refuse_in_use(path, what):
    """Raise :class:`ImageInUseError` when a qemu process holds ``path`` (for check mode, which runs no qemu-img)."""
    if qemu_lock_held(path):
        raise ImageInUseError(in_use_message(path, what), path=path)


def _is_block_device(path):
    try:
        return stat.S_ISBLK(os.stat(path).st_mode)
    except OSError:
        return False


def image_facts(qemu, path, declared_format=None, backing_chain=False):
    """Return the facts of the image at ``path`` without letting qemu-img guess.

    The format is the declared one when given, else the one the header magic
    declares (pure Python, see :mod:`._inspect`). A file whose header names
    another format than the declared one is refused: a raw disk carrying a
    qcow2 header is the classic way to make a host read files it should not.
    With ``backing_chain`` the result carries ``backing_chain``, a list of the
    facts of every image in the chain, top first.
    """
    if not os.path.lexists(path):
        raise ImageNotFoundError('%s does not exist' % path, path=path)
    detected = detect_format(path)
    # A header without known magic reads as raw: formats this module does not
    # know by magic (a fixed VHD, say) are then checked by qemu-img itself.
    if declared_format and detected != 'raw' and declared_format != detected:
        raise WrongFormatError(
            '%s was declared as %s but its header says %s. Declare the real format, or convert '
            'the image with hypervisor.images.image_convert if it should be %s.'
            % (path, declared_format, detected, declared_format), path=path)
    fmt = declared_format or detected
    data = qemu.info(path, fmt, backing_chain=backing_chain)
    if backing_chain:
        chain = [normalize_info(item) for item in data]
        facts = dict(chain[0])
        facts['backing_chain'] = chain
    else:
        facts = normalize_info(data)
    facts['path'] = path
    return facts
