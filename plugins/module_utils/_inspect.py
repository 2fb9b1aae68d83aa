# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure-Python disk image inspection: format, virtual size and a safety verdict.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

Why
===
A disk image is data an attacker may control, and qemu-img believes what an
image header says. A qcow2 header can name a host file as its backing file or
as its external data file, a VMDK descriptor can name host files as extents, and
``qemu-img convert`` then copies those host files into its output (OpenStack
CVE-2022-47951, CVE-2024-32498, CVE-2024-40767). A crafted header can make
``qemu-img info`` allocate and read without bound (CVE-2015-5162). A raw guest
disk whose first sector the guest rewrote as a qcow2 header turns into a host
attack as soon as anything lets qemu guess the format (CVE-2008-2004).

This module reads the headers itself, before any qemu-img runs on a file, in
pure Python (standard library, Python 3.8+), reading at most ``READ_BUDGET``
bytes of a file whatever its header claims and never holding more than a few
MiB. It names the format qemu would see, the virtual size the header gives, and
a verdict: whether the file is safe to hand to qemu-img with ``-f FORMAT``, and
why not. It mirrors qemu 7.2's own probing (so that what it calls raw, qemu
would not probe as anything else) and refuses where qemu would follow a name out
of the file, where qemu would refuse the header anyway, and where two formats
claim one file. It decrypts nothing; :func:`inspect` follows no name it finds,
and :func:`inspect_chain` follows backing file names only into directories the
caller names.

API
===
``inspect(path, claimed_format=None, allow=(), max_virtual_size=None)``
    Open ``path`` (a regular file or a block device) and return an
    :class:`Inspection`. ``claimed_format`` is the format the user declared (a
    module's ``src_format``, ``format`` or ``backing_format``); it must agree with
    the detected one. ``allow`` is the default set of reason codes the verdict
    waives (only codes in ``ALLOWABLE``). ``max_virtual_size`` refuses larger
    images (code ``too_large``). Raises :class:`InspectError` only when the file
    cannot be opened or read; a hostile header yields a verdict, never an
    exception.
``inspect_file(handle, path=None, size=None, ...)``
    The same on an open binary file object (``seek``/``read``); ``path`` is used
    in messages and to resolve relative backing file names.
``Inspection``
    ``path``, ``format`` (a name in ``FORMATS``: what the bytes are, for example
    ``iso`` or ``gpt``), ``qemu_format`` (the name to pass to ``qemu-img -f``:
    ``raw`` for raw, iso, gpt and mbr, else the same as ``format``),
    ``subformat`` (vmdk create type, vpc ``fixed``/``dynamic``/``differencing``,
    luks ``luks1``/``luks2``), ``virtual_size`` (bytes, as ``qemu-img info``
    reports it; None if unknown), ``file_size``, ``backing_file`` (the name as
    the header stores it), ``backing_format`` (from the header, None if not
    declared), ``backing_path`` (the name resolved the way qemu resolves it,
    relative to the image's directory), ``data_file``, ``extent_files`` (the
    names of the files a VMDK descriptor that qemu follows reads its data
    from), ``encrypted``,
    ``claimed_format``, ``matches`` (every format whose signature matched, the
    chosen one first), ``details`` (format-specific facts), ``reasons`` (tuple
    of :class:`Reason`, each refusing the image unless allowed), ``notes``
    (tuple of :class:`Reason` that refuse nothing: dirty bit, unknown optional
    header extensions, ...), ``bytes_read``.
    Methods: ``refusals(allow=None)`` the reasons not waived; ``safe`` (the
    verdict with the default ``allow``), ``is_safe(allow=None)``,
    ``verdict(allow=None)`` a dict ``{safe, reasons, allowed, notes}`` whose
    lists hold ``{code, message}`` dicts; ``require_safe(allow=None)`` raises
    :class:`UnsafeImageError` naming the path, every reason and the fix;
    ``confirm_with_qemu(info)`` compares the facts with the parsed JSON of the
    ``qemu-img info -f FMT --output=json`` that a module runs anyway (no
    backing file or data file the header check did not see, the same format and
    virtual size, VMDK extents only the file itself) and adds its disagreements
    as reasons; ``to_dict()`` for module results.
``inspect_chain(path, roots, claimed_format=None, allow=(), max_depth=MAX_CHAIN, max_virtual_size=None)``
    For callers that allow backing files: a list of inspections, the image
    first, then each backing file inspected with the format its parent
    declares as the claimed one. Backing files must lie under one of ``roots``
    (directories; None accepts any, which a header naming ``/etc/shadow`` as
    a raw backing file would pass), and a loop or a chain longer than
    ``max_depth`` is refused. The chain is safe when every element is.
``is_plain_file_name(name)`` / ``name_problem(name)``
    Whether a name (a backing file, an extent, anything handed to qemu or written
    into a header) reads as a plain file name: qemu reads ``PROTO:`` before any
    ``/`` as a protocol (``file:x``, ``nbd:127.0.0.1:10809``) and ``json:`` as a
    set of options. ``name_problem`` returns None or why not.
``opened_names(inspection)`` / ``files_qemu_opens(name, directory)``
    Every name qemu opens besides the image (backing file, data file, VMDK
    extents, each with the directory qemu resolves it against), and the files
    of this host one name opens in every spelling qemu accepts (plain,
    ``file:``, ``json:{...}``, ``blkdebug:``/``blkverify:``), with the names
    whose file cannot be told (relative to qemu's working directory).
``detect_format(path)``, ``format_from_header(header)``, ``DETECTABLE_FORMATS``
    Kept for existing callers: the ``qemu_format`` of a file or a header
    (``raw`` when no signature matches), and the formats that can be recognised.

Wiring
======
A module that hands a file it did not make to qemu-img::

    inspection = inspect(src, claimed_format=params['src_format'], max_virtual_size=limit)
    inspection.require_safe()                    # UnsafeImageError is a TaskError
    info = qemu.info(src, inspection.qemu_format)  # always -f, under resource limits
    inspection.confirm_with_qemu(info).require_safe()

With ``allow_backing_file``, inspect the chain instead and require every
element to be safe, with ``roots`` the directories base images may live in::

    chain = inspect_chain(src, roots, claimed_format=fmt, allow=['backing_file'])
    for inspection in chain:
        inspection.require_safe()

``to_dict()`` (or ``verdict()``) is what a module returns to the user.

Verdict and reason codes
========================
A reason refuses the image unless its code is allowed; only the codes in
``ALLOWABLE`` can be: ``backing_file`` (the image has one; a caller that allows
it must then inspect every element of the chain, using ``backing_path`` and
``backing_format``), ``backing_format_missing`` (qemu would guess the backing
file's format), ``corrupt`` (qcow2 corrupt bit) and ``partition_table`` (an
inconsistent GPT or protective MBR, which is only data to qemu). Everything else
is never acceptable: ``data_file``, ``extent_file``, ``extent_type``,
``create_type``, ``descriptor_too_large``, ``protocol_name``,
``unsafe_backing_format``, ``unknown_feature``, ``bad_version``,
``obsolete_format`` (qcow v1, qed), ``unsupported`` (qemu would misread it, for
example a differencing VHD whose parent qemu ignores), ``polyglot``,
``format_mismatch``, ``malformed`` (qemu refuses the header, crashes on it, or
it cannot be read), ``oversized_metadata`` (a table qemu would load is larger
than ``MAX_TABLE_BYTES`` or than qemu accepts), ``too_large``,
``backing_outside``, ``backing_chain`` and ``qemu_disagrees``.
``REASON_CODES`` describes each one.

qcow2 header extensions carry no mandatory flag: the specification says an
unknown extension "can be safely ignored" and announces anything a reader must
understand with an incompatible feature bit, which is refused when unknown. An
unknown extension is therefore a note; a known one that appears twice, or that
does not fit the header cluster, is refused, and so is a missing one that the
header makes mandatory (the encryption header of a LUKS-encrypted qcow2, on
which qemu-img 7.2 crashes). VHDX regions and metadata items do carry a
required flag, and an unknown required one is refused.
"""

from __future__ import annotations

import collections
import io
import json
import os
import re
import stat
import struct
import uuid
import zlib

from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError

KiB = 1024
MiB = 1024 * KiB

#: the most bytes one inspection reads from a file, whatever its headers claim
READ_BUDGET = 4 * MiB
#: bytes read from the start of every file: probes, ISO volume descriptors, GPT
#: qemu counts a raw file's size in whole sectors of this many bytes
SECTOR = 512
HEAD_BYTES = 64 * KiB
#: what a names-only inspection reads of the start of a file (see :func:`inspect`)
NAMES_HEAD_BYTES = 4 * KiB
#: qemu probes a format from this many bytes (BLOCK_PROBE_BUF_SIZE)
PROBE_BYTES = 2048
#: the largest VMDK descriptor accepted (qemu reads at most 1 MiB - 1)
VMDK_DESCRIPTOR_LIMIT = 1 * MiB
#: the largest table (L1, BAT, block map, ...) a header may make qemu load
MAX_TABLE_BYTES = 32 * MiB
#: kept for callers that read a header themselves
HEADER_BYTES = 512
#: the longest backing chain inspect_chain follows by default
MAX_CHAIN = 16

#: every format this module names
FORMATS = ('raw', 'qcow2', 'qcow', 'qed', 'vmdk', 'vpc', 'vhdx', 'vdi', 'luks', 'iso', 'gpt', 'mbr',
           'parallels', 'bochs', 'cloop', 'dmg')
#: formats that qemu reads as raw: their structure is only data to it
RAW_FAMILY = frozenset(['raw', 'iso', 'gpt', 'mbr'])
#: formats this module can recognise; a file of another format reads as raw
DETECTABLE_FORMATS = frozenset(FORMATS) - RAW_FAMILY
#: names users give for a format, mapped to qemu's name
FORMAT_ALIASES = {'vhd': 'vpc'}
#: formats a backing file may be declared as (a protocol driver such as nbd may not)
BACKING_FORMATS = DETECTABLE_FORMATS | frozenset(['raw'])

REASON_CODES = collections.OrderedDict([
    ('backing_file', 'the image names a backing file that qemu would open'),
    ('backing_format_missing', 'the image does not declare its backing file\'s format, so qemu would guess it'),
    ('corrupt', 'the qcow2 corrupt bit is set'),
    ('partition_table', 'the GPT header or the protective MBR is inconsistent'),
    ('data_file', 'the qcow2 image keeps its data in an external data file'),
    ('extent_file', 'the VMDK reads data from a file other than itself'),
    ('extent_type', 'a VMDK extent type that its create type does not allow (FLAT, VMFS, ZERO, ...)'),
    ('create_type', 'a VMDK create type other than monolithicSparse and streamOptimized'),
    ('descriptor_too_large', 'a VMDK descriptor larger than 1 MiB'),
    ('protocol_name', 'a name that qemu would read as a protocol or as json: options'),
    ('unsafe_backing_format', 'a backing format that is not an image format'),
    ('unknown_feature', 'a feature bit, compression type or required item this module does not know'),
    ('bad_version', 'a format version qemu does not read'),
    ('obsolete_format', 'qcow (version 1) or qed: kept by qemu for compatibility only'),
    ('unsupported', 'a variant qemu would misread, such as a differencing image whose parent it ignores'),
    ('polyglot', 'more than one format matches the file'),
    ('format_mismatch', 'the declared format is not the detected one'),
    ('malformed', 'a header that qemu refuses or that cannot be read'),
    ('oversized_metadata', 'a table the header makes qemu load is too large'),
    ('too_large', 'the virtual size exceeds the limit the task set'),
    ('backing_outside', 'a backing file outside the directories the task allows backing files in'),
    ('backing_chain', 'a backing chain that loops or is longer than the task allows'),
    ('qemu_disagrees', 'qemu-img info reports other facts than the header check'),
])
#: reason codes a caller may waive; every other code always refuses
ALLOWABLE = frozenset(['backing_file', 'backing_format_missing', 'corrupt', 'partition_table'])

_HINTS = {
    'backing_file': 'Images with a backing file are refused unless the task allows backing files.',
    'backing_format_missing': 'Rebase the image with an explicit backing format (qemu-img rebase -u -b NAME -F FORMAT).',
    'corrupt': 'Repair the image first (qemu-img check -r all) or allow corrupt images.',
    'partition_table': 'Fix the partition table, or allow inconsistent partition tables.',
    'format_mismatch': 'Declare the format the file really has, or convert it first if it should be the declared one.',
    'too_large': 'Raise the size limit if the image is expected to be this large.',
    'backing_outside': 'Keep backing files in the directories the task allows, or rebase the image onto one there.',
}
_DEFAULT_HINT = ('The image cannot be used as it is: get a clean copy from its source, or rebuild it with '
                 'qemu-img convert on a trusted machine.')

Reason = collections.namedtuple('Reason', ['code', 'message'])


class InspectError(TaskError):
    """The file could not be opened or read to inspect it."""


class UnsafeImageError(InspectError):
    """The inspector refused an image; ``inspection`` holds the facts and every reason."""

    def __init__(self, msg, path=None, inspection=None):
        super(UnsafeImageError, self).__init__(msg, path)
        self.inspection = inspection

    def to_result(self):
        result = super(UnsafeImageError, self).to_result()
        if self.inspection is not None:
            result['inspection'] = self.inspection.to_dict()
        return result


class _Refused(Exception):
    """Parsing cannot go on; carries the reason that stops it."""

    def __init__(self, code, message):
        super(_Refused, self).__init__(message)
        self.reason = Reason(code, message)


def _check_allow(allow):
    allow = frozenset(allow or ())
    wrong = allow - ALLOWABLE
    if wrong:
        raise ValueError('reason codes that can never be allowed: %s' % ', '.join(sorted(wrong)))
    return allow


def name_problem(name):
    """Return why ``name`` is not safe as a plain file name for qemu, or None if it is.

    qemu reads everything before the first ``:`` as a protocol unless a ``/``
    comes first (``file:x``, ``nbd:127.0.0.1:10809``), and parses a name that
    starts with ``json:`` as a set of block options. Control characters (NUL,
    newline, ...) end or split names in headers and descriptors.
    """
    if isinstance(name, bytes):
        name = name.decode('utf-8', 'surrogateescape')
    if not name:
        return 'is empty'
    if any(ord(char) < 0x20 or ord(char) == 0x7f for char in name):
        return 'contains a control character'
    if ':' in name.split('/', 1)[0]:
        if name[:5].lower() == 'json:':
            return 'starts with json:, which qemu parses as block options, not as a file name'
        return ("has a ':' before any '/', which qemu reads as a protocol prefix, not as a file name "
                "(write it as ./NAME or as an absolute path)")
    return None


def is_plain_file_name(name):
    """Whether qemu would read ``name`` as a file name and nothing else."""
    return name_problem(name) is None


#: protocols whose names are files on this host, handed to the file driver as they are (no ``file:`` prefix)
LOCAL_PROTOCOLS = ('file', 'host_device', 'host_cdrom')
#: protocols that name one image file after a ``:`` (``blkdebug:[CONFIG]:IMAGE``, ``blkverify:RAW:IMAGE``)
LAYERED_PROTOCOLS = ('blkdebug', 'blkverify')
#: block drivers that open no file of this host (network storage, null devices)
NETWORK_DRIVERS = ('nbd', 'http', 'https', 'ftp', 'ftps', 'iscsi', 'iser', 'rbd', 'ssh', 'gluster', 'nfs', 'nvme',
                   'null-co', 'null-aio')
#: json: options whose string value names a child node; a path there is counted too, to be sure
_CHILD_OPTIONS = ('file', 'backing', 'data-file', 'image', 'x-image', 'raw', 'test')


def opened_names(inspection):
    """Every name qemu opens besides the image itself: ``(what, name, directory)`` tuples.

    ``directory`` is where qemu resolves a plain relative name: the image's
    directory for a backing file and for VMDK extents, None (the working
    directory of the qemu process, unknowable here) for a qcow2 data file.
    """
    directory = os.path.dirname(os.path.abspath(inspection.path)) if inspection.path else None
    names = []
    if inspection.backing_file:
        names.append(('backing file', inspection.backing_file, directory))
    if inspection.data_file:
        names.append(('data file', inspection.data_file, None))
    for extent in inspection.extent_files:
        names.append(('VMDK extent', extent, directory))
    return names


def files_qemu_opens(name, directory):
    """The files of this host qemu opens for ``name``, and why a name's file cannot be told.

    Returns ``(paths, unresolved)``. Every spelling qemu accepts counts: a plain
    name (relative to ``directory``), ``file:``/``host_device:`` names,
    ``json:{...}`` block options (every ``filename``, nested or dotted), and
    the images inside ``blkdebug:`` and ``blkverify:``. Network protocols and
    names qemu refuses (an unknown protocol, json that does not parse) open no
    file here. A relative name that qemu resolves against its working
    directory (after a protocol prefix, in json options, a data file) is in
    ``unresolved``: which file it is depends on the process that opens it.
    """
    paths, unresolved = [], []
    _resolve_name(name, directory, paths, unresolved)
    return paths, unresolved


def _resolve_name(name, directory, paths, unresolved):
    if not name:
        return
    if name.startswith('json:'):
        try:
            options = json.loads(name[5:])
        except ValueError:
            return  # qemu refuses the name and opens nothing
        if isinstance(options, dict):
            _resolve_options(_flatten_options(options), paths, unresolved)
        return
    head = name.split('/', 1)[0]
    if ':' in head:
        protocol, rest = name.split(':', 1)
        if protocol in LOCAL_PROTOCOLS:
            _resolve_path(rest, None, name, paths, unresolved)
        elif protocol in LAYERED_PROTOCOLS:
            first, _sep, image = rest.partition(':')
            if protocol == 'blkverify':
                _resolve_name(first, None, paths, unresolved)
            _resolve_name(image, None, paths, unresolved)
        return  # a network protocol, or one qemu does not know
    _resolve_path(name, directory, name, paths, unresolved)


def _resolve_path(path, directory, name, paths, unresolved):
    if not path:
        return
    if os.path.isabs(path):
        paths.append(path)
    elif directory is not None:
        paths.append(os.path.join(directory, path))
    else:
        unresolved.append('%r is relative to the working directory of the process that opens it' % name)


def _flatten_options(options, prefix=''):
    """json: options as qemu reads them: nested objects and arrays become dotted keys."""
    flat = {}
    items = options.items() if isinstance(options, dict) else enumerate(options)
    for key, value in items:
        dotted = '%s%s' % (prefix, key)
        if isinstance(value, (dict, list)):
            flat.update(_flatten_options(value, dotted + '.'))
        else:
            flat[dotted] = value
    return flat


def _resolve_options(flat, paths, unresolved):
    for key, value in sorted(flat.items()):
        if not isinstance(value, str):
            continue
        node, _dot, option = key.rpartition('.')
        prefix = node + '.' if node else ''
        if option == 'filename':
            if flat.get(prefix + 'driver') in NETWORK_DRIVERS:
                continue
            _resolve_name(value, None, paths, unresolved)
        elif (option in _CHILD_OPTIONS or node.endswith('children')) and os.path.isabs(value):
            paths.append(value)  # a node name in qemu, but a path here is counted to be sure


class Inspection(object):
    """What the inspector found in one file; see the module documentation for the fields."""

    def __init__(self, path, file_size, claimed_format=None, allow=()):
        self.path = path
        self.file_size = file_size
        self.claimed_format = claimed_format
        self.allow = _check_allow(allow)
        self.format = 'raw'
        self.qemu_format = 'raw'
        self.subformat = None
        self.virtual_size = None
        self.backing_file = None
        self.backing_format = None
        self.data_file = None
        self.extent_files = ()
        self.encrypted = False
        self.matches = ()
        self.details = {}
        self.reasons = ()
        self.notes = ()
        self.bytes_read = 0

    def _refuse(self, code, message):
        if code not in REASON_CODES:
            raise ValueError('unknown reason code %s' % code)
        reason = Reason(code, message)
        if reason not in self.reasons:
            self.reasons += (reason,)

    def _note(self, code, message):
        reason = Reason(code, message)
        if reason not in self.notes:
            self.notes += (reason,)

    @property
    def backing_path(self):
        """The backing file name resolved as qemu does: relative to the image's directory."""
        if not self.backing_file or not is_plain_file_name(self.backing_file):
            return None
        if os.path.isabs(self.backing_file) or not self.path:
            return self.backing_file
        return os.path.join(os.path.dirname(self.path), self.backing_file)

    def refusals(self, allow=None):
        """The reasons that refuse the image when the codes in ``allow`` are waived."""
        allow = self.allow if allow is None else _check_allow(allow)
        return [reason for reason in self.reasons if reason.code not in allow]

    def is_safe(self, allow=None):
        return not self.refusals(allow)

    @property
    def safe(self):
        return self.is_safe()

    def verdict(self, allow=None):
        """``{safe, reasons, allowed, notes}``; each list holds ``{code, message}`` dicts."""
        refused = self.refusals(allow)
        return {
            'safe': not refused,
            'reasons': [reason._asdict() for reason in refused],
            'allowed': [reason._asdict() for reason in self.reasons if reason not in refused],
            'notes': [reason._asdict() for reason in self.notes],
        }

    def require_safe(self, allow=None, hints=None):
        """Return self if the image is safe, else raise :class:`UnsafeImageError`.

        ``hints`` maps reason codes to the fix a caller wants named instead of
        the default one (a module names its own option, say).
        """
        refused = self.refusals(allow)
        if not refused:
            return self
        fixes = dict(_HINTS, **(hints or {}))
        hints = []
        for reason in refused:
            hint = fixes.get(reason.code, _DEFAULT_HINT)
            if hint not in hints:
                hints.append(hint)
        msg = '%s (%s) is refused: %s. %s' % (
            self.path or 'the image', self.format, '; '.join(reason.message for reason in refused), ' '.join(hints))
        raise UnsafeImageError(msg, self.path, self)

    def to_dict(self):
        return {
            'path': self.path,
            'format': self.format,
            'qemu_format': self.qemu_format,
            'subformat': self.subformat,
            'virtual_size': self.virtual_size,
            'file_size': self.file_size,
            'backing_file': self.backing_file,
            'backing_format': self.backing_format,
            'data_file': self.data_file,
            'encrypted': self.encrypted,
            'claimed_format': self.claimed_format,
            'matches': list(self.matches),
            'details': dict(self.details),
            'verdict': self.verdict(),
        }

    def confirm_with_qemu(self, info):
        """Compare with ``qemu-img info -f FMT --output=json`` (parsed); disagreements become reasons.

        ``info`` is the dict qemu-img printed (or the list printed with
        ``--backing-chain``, whose first element is this image). Returns self.
        """
        if isinstance(info, list):
            info = info[0] if info else {}
        qemu_format = info.get('format')
        if qemu_format and qemu_format != self.qemu_format:
            self._refuse('qemu_disagrees', 'qemu-img info reads it as %s, the header check as %s'
                         % (qemu_format, self.qemu_format))
        backing = info.get('backing-filename') or info.get('full-backing-filename')
        if backing and self.backing_file is None:
            self._refuse('qemu_disagrees', 'qemu-img info reports a backing file %r that the header check did not see'
                         % backing)
        elif backing is None and self.backing_file is not None:
            self._refuse('qemu_disagrees', 'the header names backing file %r but qemu-img info reports none'
                         % self.backing_file)
        elif backing and info.get('backing-filename', backing) != self.backing_file:
            self._refuse('qemu_disagrees', 'qemu-img info reports backing file %r, the header %r'
                         % (info.get('backing-filename'), self.backing_file))
        backing_format = info.get('backing-filename-format')
        if backing_format and self.backing_format and backing_format != self.backing_format:
            self._refuse('qemu_disagrees', 'qemu-img info reports backing format %s, the header %s'
                         % (backing_format, self.backing_format))
        size = info.get('virtual-size')
        if size is not None and self.virtual_size is not None and size != self.virtual_size:
            self._refuse('qemu_disagrees', 'qemu-img info reports a virtual size of %s bytes, the header %s'
                         % (size, self.virtual_size))
        if info.get('encrypted') and not self.encrypted:
            self._refuse('qemu_disagrees', 'qemu-img info reports an encrypted image that the header check did not see')
        specific = (info.get('format-specific') or {}).get('data') or {}
        if specific.get('data-file'):
            self._refuse('data_file', 'qemu-img info reports an external data file %r' % specific['data-file'])
        if specific.get('corrupt'):
            self._refuse('corrupt', 'qemu-img info reports the image as corrupt')
        own = info.get('filename')
        for extent in specific.get('extents') or ():
            name = extent.get('filename')
            if name and own and name != own:
                self._refuse('extent_file', 'qemu-img info reports an extent in %r, another file' % name)
        return self


class _Source(object):
    """Bounded reads at offsets of an open binary file object."""

    def __init__(self, handle, size, budget=READ_BUDGET):
        self.handle = handle
        self.size = size
        self.budget = budget
        self.bytes_read = 0
        self.head = b''

    def read(self, offset, length):
        """Up to ``length`` bytes at ``offset``: fewer at the end of the file."""
        if offset < 0 or length <= 0 or offset >= self.size:
            return b''
        length = min(length, self.size - offset)
        if offset + length <= len(self.head):
            return self.head[offset:offset + length]  # read once already
        if self.bytes_read + length > self.budget:
            raise _Refused('oversized_metadata', 'its headers would need more than %d bytes read (read budget)'
                           % self.budget)
        self.handle.seek(offset)
        chunks = []
        while length > 0:
            chunk = self.handle.read(length)
            if not chunk:
                break
            chunks.append(chunk)
            length -= len(chunk)
            self.bytes_read += len(chunk)
        return b''.join(chunks)

    def read_padded(self, offset, length):
        """``length`` bytes at ``offset``, zero-filled past the end (as qemu reads a short file)."""
        data = self.read(offset, length)
        return data + b'\0' * (length - len(data))


def _cstring(data):
    """Bytes up to the first NUL, decoded as qemu would print them."""
    return data.split(b'\0', 1)[0].decode('utf-8', 'replace')


def _crc32c_table():
    table = []
    for index in range(256):
        crc = index
        for _bit in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC32C = _crc32c_table()


def _crc32c(data):
    crc = 0xFFFFFFFF
    table = _CRC32C
    for byte in bytearray(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def raw_virtual_size(size):
    """The virtual size qemu reports for a raw file of ``size`` bytes: rounded up to a whole sector of 512 bytes."""
    return _ceil_div(size, SECTOR) * SECTOR


def _ceil_div(number, divisor):
    return -(-number // divisor)


# --- probing -------------------------------------------------------------

_CLOOP_MAGIC = b'#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n'
_VDI_SIGNATURE = struct.pack('<I', 0xBEDA107F)
_PARALLELS_MAGICS = (b'WithoutFreeSpace', b'WithouFreSpacExt')


def _vmdk_text_probe(buf):
    """qemu's vmdk_probe for text descriptors: comments and blank lines, then ``version=N``."""
    pos, end = 0, len(buf)
    while pos < end:
        char = buf[pos:pos + 1]
        if char == b'#':
            newline = buf.find(b'\n', pos)
            pos = end if newline < 0 else newline + 1
            continue
        if char == b' ':
            while pos < end and buf[pos:pos + 1] == b' ':
                pos += 1
            if buf[pos:pos + 1] == b'\r':
                pos += 1
            if pos >= end or buf[pos:pos + 1] != b'\n':
                return False
            pos += 1
            continue
        return any(buf.startswith(b'version=%d%s' % (number, newline), pos)
                   for number in (1, 2, 3) for newline in (b'\n', b'\r\n'))
    return False


def _mbr_partitions(head):
    """The four MBR partition entries if sector 0 carries a plausible partition table."""
    if len(head) < 512 or head[510:512] != b'\x55\xaa':
        return None
    entries = [struct.unpack('<B3sB3sII', head[446 + 16 * index:462 + 16 * index]) for index in range(4)]
    if any(entry[0] not in (0, 0x80) for entry in entries) or not any(entry[2] for entry in entries):
        return None
    return entries


def _gpt_header_offsets(head):
    return [sector for sector in (512, 4096) if head[sector:sector + 8] == b'EFI PART']


def _probe(head, tail, size):
    """Every (format, layer) whose signature matches; layer is header, trailer or content."""
    buf = head[:PROBE_BYTES].ljust(PROBE_BYTES, b'\0')
    found = []
    if buf[:4] == b'QFI\xfb':
        version = struct.unpack('>I', buf[4:8])[0] if len(head) >= 8 else 0
        found.append(('qcow2' if version >= 2 else 'qcow', 'header'))
    if buf[:4] == b'QED\0':
        found.append(('qed', 'header'))
    if buf[:4] in (b'KDMV', b'COWD') or buf.startswith(b'# Disk DescriptorFile') or _vmdk_text_probe(buf):
        found.append(('vmdk', 'header'))
    if buf[:8] == b'vhdxfile':
        found.append(('vhdx', 'header'))
    if buf[:8] == b'conectix':
        found.append(('vpc', 'header'))
    if buf[:6] == b'LUKS\xba\xbe':
        found.append(('luks', 'header'))
    if buf[:16] in _PARALLELS_MAGICS:
        found.append(('parallels', 'header'))
    if buf.startswith(b'Bochs Virtual HD Image'):
        found.append(('bochs', 'header'))
    if buf[0x40:0x44] == _VDI_SIGNATURE:
        found.append(('vdi', 'header'))
    if buf.startswith(_CLOOP_MAGIC):
        found.append(('cloop', 'header'))
    if size >= 512 and tail[-512:-504] == b'conectix':
        found.append(('vpc', 'trailer'))
    if size >= 512 and tail[-512:-508] == b'koly':
        found.append(('dmg', 'trailer'))
    if head[32769:32774] == b'CD001':
        found.append(('iso', 'content'))
    partitions = _mbr_partitions(head)
    if _gpt_header_offsets(head) or (partitions and any(entry[2] == 0xEE for entry in partitions)):
        found.append(('gpt', 'content'))
    elif partitions:
        found.append(('mbr', 'content'))
    return found


# --- the inspector -------------------------------------------------------

class _Inspector(object):
    """Parses one file into an :class:`Inspection`; one method per format."""

    def __init__(self, source, result, names_only=False):
        self.src = source
        self.size = source.size
        self.result = result
        self.names_only = names_only
        self.head = b''
        self.tail = b''
        self.layer = None

    # helpers
    def refuse(self, code, message):
        self.result._refuse(code, message)

    def note(self, code, message):
        self.result._note(code, message)

    def stop(self, code, message):
        raise _Refused(code, message)

    def need(self, length, what):
        if self.size < length:
            self.stop('malformed', 'the file ends inside its %s (%d bytes, %d needed)' % (what, self.size, length))

    def check_name(self, what, name):
        problem = name_problem(name)
        if problem:
            self.refuse('protocol_name', '%s %r %s' % (what, name, problem))

    def set_backing(self, name, backing_format, what):
        result = self.result
        result.backing_file = name
        result.backing_format = backing_format
        self.refuse('backing_file', '%s names backing file %r (format %s)' % (what, name, backing_format or 'not declared'))
        self.check_name('backing file name', name)
        if backing_format is None:
            self.refuse('backing_format_missing', 'the backing file %r has no declared format, so qemu would guess it'
                        % name)
        elif backing_format not in BACKING_FORMATS:
            self.refuse('unsafe_backing_format', 'the backing format %r is not an image format' % backing_format)

    def run(self):
        result = self.result
        self.head = self.src.head = self.src.read(0, NAMES_HEAD_BYTES if self.names_only else HEAD_BYTES)
        tail_start = max(0, self.size - 1536)
        if self.names_only or self.size <= len(self.head):
            self.tail = self.head[tail_start:]
        else:
            self.tail = self.src.read(tail_start, 1536)
        found = _probe(self.head, self.tail, self.size)
        chosen = self.choose(found)
        result.format = chosen[0] if chosen else 'raw'
        self.layer = chosen[1] if chosen else None
        result.qemu_format = 'raw' if result.format in RAW_FAMILY else result.format
        ordered = ([chosen[0]] if chosen else []) + [name for name, layer in found if not chosen or name != chosen[0]]
        result.matches = tuple(collections.OrderedDict.fromkeys(ordered))
        try:
            getattr(self, 'parse_' + result.format)()
        except _Refused as exc:
            result._refuse(*exc.reason)
        if result.virtual_size is not None and result.virtual_size < 0:
            result.virtual_size = None

    def choose(self, found):
        """The format qemu would use; records a polyglot when formats that exclude each other match."""
        headers = [name for name, layer in found if layer == 'header']
        trailers = [name for name, layer in found if layer == 'trailer']
        contents = [name for name, layer in found if layer == 'content']
        conflicting = list(collections.OrderedDict.fromkeys(headers + [
            name for name in trailers if name not in headers]))
        if headers and 'iso' in contents:
            conflicting.append('iso')
        if len(conflicting) > 1:
            self.refuse('polyglot', 'the file matches more than one format (%s); a reader that guesses would see '
                        'another image than the one declared' % ', '.join(conflicting))
        if headers:
            return (headers[0], 'header')
        if trailers:
            return (trailers[0], 'trailer')
        for name in ('iso', 'gpt', 'mbr'):
            if name in contents:
                return (name, 'content')
        return None

    # raw family
    def parse_raw(self):
        self.result.virtual_size = raw_virtual_size(self.size)

    def parse_iso(self):
        self.result.virtual_size = raw_virtual_size(self.size)
        for index in range(32):
            offset = 32768 + 2048 * index
            descriptor = self.src.read(offset, 2048)
            if len(descriptor) < 2048 or descriptor[1:6] != b'CD001':
                break
            kind = descriptor[0]
            if kind == 1:
                blocks, block_size = struct.unpack('<I', descriptor[80:84])[0], struct.unpack('<H', descriptor[128:130])[0]
                self.result.details.update(volume_id=_cstring(descriptor[40:72]).strip(), volume_size=blocks * block_size)
                if blocks * block_size > self.size:
                    self.note('truncated', 'the ISO 9660 volume claims %d bytes, the file has %d'
                              % (blocks * block_size, self.size))
                return
            if kind == 255:
                break
        self.note('no_primary_volume', 'CD001 found but no ISO 9660 primary volume descriptor')

    def parse_mbr(self):
        self.result.virtual_size = raw_virtual_size(self.size)
        partitions = _mbr_partitions(self.head) or ()
        self.result.details['partitions'] = [
            {'type': entry[2], 'start': entry[4], 'sectors': entry[5]} for entry in partitions if entry[2]]

    def parse_gpt(self):
        self.result.virtual_size = raw_virtual_size(self.size)
        partitions = _mbr_partitions(self.head)
        offsets = _gpt_header_offsets(self.head)
        if not partitions or not any(entry[2] == 0xEE for entry in partitions):
            self.refuse('partition_table', 'a GPT header without a protective MBR (partition type 0xee)')
        elif len([entry for entry in partitions if entry[2]]) > 1:
            self.note('hybrid_mbr', 'the protective MBR also lists other partitions (hybrid MBR)')
        if not offsets:
            self.refuse('partition_table', 'a protective MBR but no GPT header ("EFI PART") at LBA 1')
            return
        sector = offsets[0]
        protective = [entry for entry in partitions or () if entry[2] == 0xEE]
        if protective and protective[0][4] != 1:
            self.refuse('partition_table', 'the protective MBR partition starts at LBA %d, not 1' % protective[0][4])
        header = self.head[sector:sector + sector].ljust(sector, b'\0')
        (_sig, revision, header_size, crc, _reserved, my_lba, _alt, first, last, _guid, entries_lba, count, entry_size,
         entries_crc) = struct.unpack('<8sIIII QQQQ 16sQIII', header[:92])
        self.result.details.update(sector_size=sector, partition_entries=count)
        if not 92 <= header_size <= sector:
            self.refuse('partition_table', 'the GPT header size %d is not between 92 and %d' % (header_size, sector))
            return
        check = header[:16] + b'\0\0\0\0' + header[20:header_size]
        if zlib.crc32(check) & 0xFFFFFFFF != crc:
            self.refuse('partition_table', 'the GPT header checksum does not match')
        if my_lba != 1:
            self.refuse('partition_table', 'the GPT header says it is at LBA %d, not 1' % my_lba)
        if first > last:
            self.refuse('partition_table', 'the GPT usable area ends (LBA %d) before it starts (LBA %d)' % (last, first))
        if revision >> 16 != 1:
            self.note('gpt_revision', 'GPT revision %#x' % revision)
        if entry_size < 128 or entry_size % 8 or count * entry_size > MiB:
            self.refuse('partition_table', 'a GPT partition array of %d entries of %d bytes' % (count, entry_size))
            return
        array = self.src.read(entries_lba * sector, count * entry_size)
        if len(array) < count * entry_size:
            self.refuse('partition_table', 'the GPT partition array lies beyond the end of the file')
        elif zlib.crc32(array) & 0xFFFFFFFF != entries_crc:
            self.refuse('partition_table', 'the GPT partition array checksum does not match')

    # qcow family
    def parse_qcow2(self):
        result = self.result
        self.need(72, 'qcow2 header')
        header = self.src.read_padded(0, 112)
        (version, backing_offset, backing_size, cluster_bits, size, crypt, l1_size, l1_offset, rt_offset, rt_clusters,
         snapshots, snapshots_offset) = struct.unpack('>IQIIQIIQQIIQ', header[4:72])
        result.details['version'] = version
        if version not in (2, 3):
            self.stop('bad_version', 'qcow2 version %d (qemu reads versions 2 and 3)' % version)
        result.virtual_size = size
        incompatible = compatible = autoclear = compression = 0
        refcount_order, header_length = 4, 72
        if version == 3:
            self.need(104, 'qcow2 version 3 header')
            incompatible, compatible, autoclear, refcount_order, header_length = struct.unpack('>QQQII', header[72:104])
            if header_length < 104:
                self.stop('malformed', 'a qcow2 header length of %d bytes (at least 104)' % header_length)
            if header_length > 104:
                compression = header[104]
        if not 9 <= cluster_bits <= 21:
            self.stop('malformed', 'a qcow2 cluster size of 2^%d bytes (qemu reads 2^9 to 2^21)' % cluster_bits)
        cluster_size = 1 << cluster_bits
        result.details.update(cluster_size=cluster_size, compat='0.10' if version == 2 else '1.1')
        if header_length > cluster_size:
            self.stop('malformed', 'the qcow2 header (%d bytes) exceeds its cluster (%d)' % (header_length, cluster_size))
        if backing_offset > cluster_size:
            self.stop('malformed', 'the backing file name offset %d lies beyond the first cluster' % backing_offset)
        extended_l2 = bool(incompatible & 16)
        result.details.update(
            dirty=bool(incompatible & 1), corrupt=bool(incompatible & 2), extended_l2=extended_l2,
            compression_type={0: 'zlib', 1: 'zstd'}.get(compression, compression),
            lazy_refcounts=bool(compatible & 1), refcount_bits=1 << min(refcount_order, 6))
        if incompatible & 1:
            self.note('dirty', 'the qcow2 dirty bit is set: refcounts may need a repair (qemu-img check -r all)')
        if incompatible & 2:
            self.refuse('corrupt', 'the qcow2 corrupt bit is set')
        if compression not in (0, 1):
            self.refuse('unknown_feature', 'qcow2 compression type %d (qemu knows zlib and zstd)' % compression)
        elif bool(compression) != bool(incompatible & 8):
            self.refuse('malformed', 'the qcow2 compression type (%d) and incompatible bit 3 disagree' % compression)
        if refcount_order > 6:
            self.refuse('malformed', 'a qcow2 refcount order of %d (at most 6)' % refcount_order)
        if crypt > 2:
            self.refuse('malformed', 'qcow2 encryption method %d (qemu knows 1, AES, and 2, LUKS)' % crypt)
        elif crypt:
            result.encrypted = True
            result.details['encryption'] = {1: 'aes', 2: 'luks'}[crypt]
        if rt_clusters == 0:
            self.refuse('malformed', 'the qcow2 image has no refcount table')
        self.qcow2_table('refcount table', rt_offset, rt_clusters, cluster_size, 8 * MiB, cluster_size)
        self.qcow2_table('snapshot table', snapshots_offset, snapshots, 40, 40 * 65536, cluster_size)
        self.qcow2_table('L1 table', l1_offset, l1_size, 8, 32 * MiB, cluster_size)
        l2_bits = cluster_bits - (4 if extended_l2 else 3)
        needed = _ceil_div(size, 1 << (cluster_bits + l2_bits))
        if size > 2 ** 63 - 512 or needed > 0x7FFFFFFF:
            self.refuse('malformed', 'a qcow2 virtual size of %d bytes, larger than qemu can address' % size)
        elif l1_size < needed:
            self.refuse('malformed', 'the qcow2 L1 table (%d entries) is too small for %d bytes' % (l1_size, size))
        extensions_end = backing_offset or cluster_size
        features, extensions = self.qcow2_extensions(header_length, extensions_end, crypt)
        if crypt == 2 and 0x0537BE77 not in extensions:
            # qemu-img 7.2 crashes on such an image
            self.refuse('malformed', 'a LUKS-encrypted qcow2 image without its encryption header extension')
        unknown = incompatible & ~0x1F
        if unknown:
            bits = [bit for bit in range(64) if unknown >> bit & 1]
            names = ['%d%s' % (bit, ' (%s)' % features[bit] if bit in features else '') for bit in bits]
            self.refuse('unknown_feature', 'unknown qcow2 incompatible feature bit(s) %s' % ', '.join(names))
        if incompatible & 4 or result.data_file is not None:
            self.refuse('data_file', 'the qcow2 image keeps its data in an external data file %s'
                        % ('%r' % result.data_file if result.data_file is not None
                           else 'that its header does not name (incompatible bit 2)'))
        elif autoclear & 2:
            self.refuse('malformed', 'the qcow2 raw external data bit is set without an external data file')
        if backing_offset and backing_size:
            if backing_size > min(1023, cluster_size - backing_offset):
                self.stop('malformed', 'a qcow2 backing file name of %d bytes (at most 1023, within the first cluster)'
                          % backing_size)
            raw_name = self.src.read_padded(backing_offset, backing_size).split(b'\0', 1)[0]
            if raw_name:
                self.set_backing(raw_name.decode('utf-8', 'surrogateescape'), result.backing_format, 'the qcow2 header')
        if result.backing_file is None and result.backing_format is not None:
            self.note('backing_format_without_file', 'a backing format %r but no backing file' % result.backing_format)
            result.backing_format = None

    def qcow2_table(self, what, offset, entries, entry_size, max_bytes, cluster_size):
        if entries > max_bytes // entry_size:
            self.refuse('oversized_metadata', 'the qcow2 %s claims %d entries of %d bytes (qemu refuses more than %d bytes)'
                        % (what, entries, entry_size, max_bytes))
        elif offset + entries * entry_size > 2 ** 63 - 1 or offset % cluster_size:
            self.refuse('malformed', 'the qcow2 %s offset %#x is invalid' % (what, offset))

    def qcow2_extensions(self, start, end, crypt):
        """Walk the header extensions as qemu does; return the feature name table (bit -> name) and the types seen."""
        result = self.result
        features = {}
        seen = set()
        if end <= start:
            return features, seen
        limit = end - start
        # Most images end their extensions within a few hundred bytes: read a window where the walk is,
        # and skip what it does not need (the data of unknown extensions).
        window = [0, self.src.read_padded(start, min(limit, 4 * KiB))]

        def take(offset, length):
            if offset < window[0] or offset + length > window[0] + len(window[1]):
                window[:] = [offset, self.src.read_padded(start + offset, min(max(length, 64 * KiB), limit - offset))]
            return window[1][offset - window[0]:offset - window[0] + length]

        offset = 0
        while offset < limit:
            if offset + 8 > limit:
                self.stop('malformed', 'a qcow2 header extension overruns the extension area')
            kind, length = struct.unpack('>II', take(offset, 8))
            offset += 8
            if length > limit - offset:
                self.stop('malformed', 'qcow2 header extension %#x claims %d bytes beyond the extension area'
                          % (kind, length))
            if kind == 0:
                break
            data = take(offset, length) if kind in _QCOW2_KNOWN_EXTENSIONS else b''
            offset += (length + 7) & ~7
            if kind in seen and kind in _QCOW2_KNOWN_EXTENSIONS:
                self.refuse('malformed', 'qcow2 header extension %#x appears twice' % kind)
            seen.add(kind)
            if kind == 0xE2792ACA:
                if length >= 16:
                    self.stop('malformed', 'a qcow2 backing format name of %d bytes (qemu takes at most 15)' % length)
                result.backing_format = data.split(b'\0', 1)[0].decode('utf-8', 'replace')
            elif kind == 0x44415441:
                result.data_file = data.split(b'\0', 1)[0].decode('utf-8', 'surrogateescape')
                self.check_name('data file name', result.data_file)
            elif kind == 0x6803F857:
                for index in range(0, length - 47, 48):
                    if data[index] == 0:
                        features[data[index + 1]] = _cstring(data[index + 2:index + 48])
            elif kind == 0x0537BE77:
                if crypt != 2 or length != 16:
                    self.refuse('malformed', 'a qcow2 encryption header extension that does not fit its method')
            elif kind == 0x23852875:
                if length != 24:
                    self.refuse('malformed', 'a qcow2 bitmaps extension of %d bytes (24 expected)' % length)
                else:
                    result.details['bitmaps'] = struct.unpack('>I', data[:4])[0]
            else:
                self.note('unknown_header_extension', 'unknown qcow2 header extension %#x (%d bytes), ignored by qemu'
                          % (kind, length))
        return features, seen

    def parse_qcow(self):
        result = self.result
        self.refuse('obsolete_format', 'qcow version 1: qemu keeps it for compatibility only and nothing '
                    'legitimate ships it; convert it to qcow2 on a trusted machine')
        self.need(48, 'qcow header')
        header = self.src.read_padded(0, 48)
        version, backing_offset, backing_size, _mtime, size = struct.unpack('>IQIIQ', header[4:32])
        if version != 1:
            self.refuse('bad_version', 'qcow version %d' % version)
        result.virtual_size = size
        if backing_offset and backing_size:
            if backing_size > 1023:
                self.stop('malformed', 'a qcow backing file name of %d bytes (at most 1023)' % backing_size)
            name = self.src.read_padded(backing_offset, backing_size).split(b'\0', 1)[0]
            if name:
                self.set_backing(name.decode('utf-8', 'surrogateescape'), None, 'the qcow header')

    def parse_qed(self):
        result = self.result
        self.refuse('obsolete_format', 'qed: qemu keeps it for compatibility only and nothing legitimate ships it; '
                    'convert it to qcow2 on a trusted machine')
        self.need(64, 'qed header')
        (cluster_size, _table_size, header_size, features, _compat, _autoclear, _l1, size, backing_offset,
         backing_size) = struct.unpack('<IIIQQQQQII', self.src.read_padded(4, 60))
        result.virtual_size = size
        if features & ~0x07:
            self.refuse('unknown_feature', 'unknown qed feature bits %#x' % (features & ~0x07))
        if features & 1:
            if backing_offset + backing_size > cluster_size * header_size or backing_size >= 4096:
                self.stop('malformed', 'the qed backing file name lies outside its header')
            name = self.src.read_padded(backing_offset, backing_size).split(b'\0', 1)[0]
            self.set_backing(name.decode('utf-8', 'surrogateescape'), 'raw' if features & 4 else None, 'the qed header')

    # vmdk
    def parse_vmdk(self):
        magic = self.head[:4]
        if magic == b'COWD':
            self.result.subformat = 'vmfsSparse'
            self.refuse('create_type', 'a VMware 3 (COWD) sparse extent; only monolithicSparse and streamOptimized '
                        'VMDK images are accepted')
            return
        if magic == b'KDMV':
            self.vmdk_sparse()
            return
        self.result.subformat = 'descriptor'
        if self.size > VMDK_DESCRIPTOR_LIMIT:
            self.stop('descriptor_too_large', 'a VMDK descriptor file of %d bytes (at most %d)'
                      % (self.size, VMDK_DESCRIPTOR_LIMIT))
        data = self.src.read(0, self.size)
        raw, _nul, rest = data.partition(b'\0')
        if rest.strip(b'\0'):
            self.refuse('malformed', 'the VMDK descriptor file holds data after a NUL byte')
        text = raw.decode('latin-1')
        descriptor = self.vmdk_descriptor(text)
        self.result.subformat = descriptor['createType'] or 'descriptor'
        self.result.extent_files = tuple(extent[3] for extent in descriptor['extents'] if extent[3] is not None)
        for extent in descriptor['extents']:
            if extent[3] is None:
                self.refuse('extent_type', 'the VMDK descriptor file has a %s extent' % extent[2])
            else:
                self.refuse('extent_file', 'the VMDK descriptor file reads its data from %s extent %r, another file'
                            % (extent[2], extent[3]))
        if not descriptor['extents']:
            self.refuse('malformed', 'a VMDK descriptor file without extents')
        self.result.virtual_size = sum(extent[1] for extent in descriptor['extents']) * 512
        self.vmdk_parent(text[:10240])

    def vmdk_descriptor(self, text):
        """Parse descriptor ``text`` (cut at its first NUL); return createType and the extent lines."""
        create_type = None
        keys = {}
        extents = []
        for line in text.split('\n'):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            first = line.split(None, 1)[0]
            if first.upper() in ('RW', 'RDONLY', 'NOACCESS'):
                match = re.match(r'(\S+)\s+(\d+)\s+(\S+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?\s*$', line)
                if not match:
                    self.refuse('malformed', 'a VMDK extent line that cannot be parsed: %r' % line[:200])
                    continue
                access, sectors, kind, name, offset = match.groups()
                extents.append((access, int(sectors), kind.upper(), name, offset))
            elif '=' in line:
                key, _sep, value = line.partition('=')
                keys.setdefault(key.strip(), value.strip().strip('"'))
            else:
                self.refuse('malformed', 'a VMDK descriptor line that is neither a key nor an extent: %r' % line[:200])
        found = text.find('createType')
        if found >= 0:
            start = found + len('createType') + 2
            quote = text.find('"', start)
            create_type = text[start:quote] if quote >= 0 else None
            if create_type != keys.get('createType'):
                self.refuse('malformed', 'the VMDK descriptor\'s createType cannot be read unambiguously')
        if create_type not in (None, 'monolithicSparse', 'streamOptimized'):
            self.refuse('create_type', 'VMDK create type %r (accepted: monolithicSparse, streamOptimized)' % create_type)
        if create_type in ('monolithicSparse', 'streamOptimized'):
            for extent in extents:
                if extent[2] != 'SPARSE':
                    self.refuse('extent_type', 'a %s extent in a %s VMDK' % (extent[2], create_type))
        for extent in extents:
            if extent[3] is not None:
                self.check_name('VMDK extent name', extent[3])
        return {'createType': create_type, 'extents': extents, 'keys': keys}

    def vmdk_parent(self, text):
        """qemu takes a backing file from ``parentFileNameHint`` anywhere in the descriptor area."""
        found = text.find('parentFileNameHint')
        if found < 0:
            return
        start = found + len('parentFileNameHint') + 2
        end = text.find('"', start)
        if end < 0:
            self.refuse('malformed', 'an unterminated parentFileNameHint in the VMDK descriptor')
            return
        self.set_backing(text[start:end], 'vmdk', 'the VMDK descriptor')

    def vmdk_sparse(self):
        result = self.result
        self.need(512, 'VMDK sparse header')
        fields = self.vmdk_header(self.head[4:79])
        version, flags, capacity, _granularity, desc_offset, desc_size = fields[:6]
        result.details['version'] = version
        result.subformat = 'monolithicSparse'
        descriptor = None
        if desc_offset:
            if desc_size * 512 > VMDK_DESCRIPTOR_LIMIT:
                self.stop('descriptor_too_large', 'an embedded VMDK descriptor of %d sectors (at most %d bytes)'
                          % (desc_size, VMDK_DESCRIPTOR_LIMIT))
            raw = self.src.read(desc_offset * 512, desc_size * 512)
            descriptor = self.vmdk_descriptor(raw.split(b'\0', 1)[0].decode('latin-1'))
            if capacity == 0:
                result.extent_files = tuple(extent[3] for extent in descriptor['extents'] if extent[3] is not None)
                self.refuse('extent_file', 'the VMDK sparse header has capacity 0, so qemu opens the extents its '
                            'embedded descriptor names instead of the file itself')
            elif len(descriptor['extents']) > 1:
                self.refuse('extent_file', 'the VMDK names %d extents; a monolithic image is one'
                            % len(descriptor['extents']))
            for extent in descriptor['extents']:
                if extent[3] is not None and '/' in extent[3]:
                    self.refuse('extent_file', 'the VMDK extent %r is a path, not the file itself' % extent[3])
        # qemu reads parentFileNameHint from the 10 KiB after the first sector, whatever the header says.
        self.vmdk_parent(self.src.read(512, 10240).split(b'\0', 1)[0].decode('latin-1'))
        gd_offset = fields[8]
        if gd_offset == 0xFFFFFFFFFFFFFFFF:
            fields = self.vmdk_footer(fields)
            version, flags, capacity = fields[:3]
        compressed = fields[11] == 1
        if flags & 0x10000 and compressed:
            result.subformat = 'streamOptimized'
        create_type = descriptor['createType'] if descriptor else None
        if create_type and (create_type == 'streamOptimized') != (result.subformat == 'streamOptimized'):
            self.refuse('malformed', 'the VMDK descriptor says %s but the header says %s'
                        % (create_type, result.subformat))
        result.virtual_size = capacity * 512
        if capacity == 0 and descriptor:
            # qemu then builds the image from the descriptor's extents
            result.virtual_size = sum(extent[1] for extent in descriptor['extents']) * 512
        self.vmdk_geometry(fields)

    def vmdk_header(self, data):
        """(version, flags, capacity, granularity, desc_offset, desc_size, gtes, rgd, gd, grain, filler, compression)."""
        return struct.unpack('<IIQQQQIQQQB4xH', data)

    def vmdk_footer(self, header):
        """The footer qemu uses instead of the header when the grain directory is at the end."""
        offset = _ceil_div(self.size, 512) * 512 - 1536
        self.need(offset + 1536 if offset > 0 else 2048, 'VMDK footer')
        footer = self.src.read_padded(offset, 1536)
        marker = struct.unpack('<QII', footer[:16])
        eos = struct.unpack('<QII', footer[1024:1040])
        if footer[512:516] != b'KDMV' or marker[1:] != (0, 3) or eos != (0, 0, 0):
            self.stop('malformed', 'a streamOptimized VMDK whose footer is missing or invalid')
        fields = self.vmdk_header(footer[516:591])
        if fields[8] == 0xFFFFFFFFFFFFFFFF:
            self.stop('malformed', 'the VMDK footer does not locate the grain directory')
        for index, what in ((2, 'capacity'), (3, 'grain size'), (4, 'descriptor offset'), (6, 'grain table size')):
            if header[index] and fields[index] != header[index]:
                self.refuse('malformed', 'the VMDK footer and header disagree on the %s (%d, %d)'
                            % (what, fields[index], header[index]))
        return fields

    def vmdk_geometry(self, fields):
        version, _flags, capacity, granularity, _do, _ds, gtes = fields[:7]
        if version > 3:
            self.refuse('bad_version', 'VMDK sparse version %d (qemu reads 1 to 3)' % version)
        if gtes > 512 or granularity > 0x200000 or gtes * granularity == 0:
            self.refuse('malformed', 'a VMDK grain table of %d entries of %d sectors' % (gtes, granularity))
            return
        directory = _ceil_div(capacity, gtes * granularity) * 4
        if directory > MAX_TABLE_BYTES:
            self.refuse('oversized_metadata', 'the VMDK grain directory would take %d bytes' % directory)

    # vpc
    def vpc_footer(self, footer):
        fields = struct.unpack('>8sIIQI4sIIQQHBBII16sB', footer[:85])
        checksum = fields[14]
        computed = ~sum(bytearray(footer[:64] + footer[68:512])) & 0xFFFFFFFF
        if checksum != computed:
            self.note('checksum', 'the VHD footer checksum does not match')
        return fields

    def parse_vpc(self):
        result = self.result
        self.need(512, 'VHD footer')
        at_start = self.layer == 'header'
        footer = self.head[:512] if at_start else self.tail[-512:]
        fields = self.vpc_footer(footer)
        data_offset, creator, current_size, cylinders, heads, sectors, disk_type = (
            fields[3], fields[5], fields[9], fields[10], fields[11], fields[12], fields[13])
        result.subformat = {2: 'fixed', 3: 'dynamic', 4: 'differencing'}.get(disk_type)
        result.details['creator'] = creator.decode('latin-1')
        if result.subformat is None:
            self.stop('malformed', 'VHD disk type %d (2 fixed, 3 dynamic, 4 differencing)' % disk_type)
        if at_start and self.size >= 1024 and self.tail[-512:-504] == b'conectix':
            end = self.vpc_footer(self.tail[-512:])
            if (end[9], end[13]) != (current_size, disk_type):
                self.refuse('malformed', 'the two copies of the VHD footer disagree (type %d/%d, size %d/%d)'
                            % (disk_type, end[13], current_size, end[9]))
        # qemu: the CHS geometry gives the size, except for creators known to use current_size.
        total = cylinders * heads * sectors
        if creator not in (b'win ', b'qem2', b'd2v ', b'CTXS', b'tap\0') and total != 65535 * 16 * 255:
            result.virtual_size = total * 512
        else:
            result.virtual_size = current_size // 512 * 512
        if result.virtual_size // 512 > 0xFF000000:
            self.refuse('malformed', 'a VHD of %d bytes, larger than qemu\'s vpc driver reads' % result.virtual_size)
        if disk_type == 2:
            return
        dynamic = self.src.read_padded(data_offset, 1024) if data_offset < self.size else b''
        if dynamic[:8] != b'cxsparse':
            self.stop('malformed', 'the VHD dynamic disk header is missing at offset %d' % data_offset)
        _table, entries, block_size = struct.unpack('>QII', dynamic[16:24] + dynamic[28:36])
        if block_size < 512 or block_size & (block_size - 1):
            self.refuse('malformed', 'a VHD block size of %d bytes' % block_size)
        elif entries * block_size < result.virtual_size:
            self.refuse('malformed', 'the VHD block table is too small for its size')
        if entries * 4 > MAX_TABLE_BYTES:
            self.refuse('oversized_metadata', 'the VHD block table claims %d entries' % entries)
        result.details['block_size'] = block_size
        if disk_type == 4:
            parent = dynamic[64:576].decode('utf-16-be', 'replace').split('\0', 1)[0]
            self.refuse('unsupported', 'a differencing VHD (parent %r): qemu ignores the parent and would read '
                        'zeros where it holds data' % parent)

    # vhdx
    def parse_vhdx(self):
        result = self.result
        self.need(320 * KiB, 'VHDX headers')
        headers = []
        for offset in (64 * KiB, 128 * KiB):
            header = self.src.read_padded(offset, 4096)
            crc = struct.unpack('<I', header[4:8])[0]
            valid = (header[:4] == b'head' and struct.unpack('<H', header[66:68])[0] == 1
                     and _crc32c(header[:4] + b'\0\0\0\0' + header[8:]) == crc)
            if valid:
                headers.append((struct.unpack('<Q', header[8:16])[0], header))
        if not headers:
            self.stop('malformed', 'no valid VHDX header')
        if len(headers) == 2 and headers[0][0] == headers[1][0]:
            self.stop('malformed', 'both VHDX headers carry sequence number %d' % headers[0][0])
        header = max(headers)[1]
        if header[48:64] != b'\0' * 16:
            self.note('log', 'the VHDX log must be replayed before qemu can read it read-only (qemu-img check -r all)')
        table = self.src.read_padded(192 * KiB, 64 * KiB)
        signature, crc, count = struct.unpack('<4sII', table[:12])
        if signature != b'regi' or _crc32c(table[:4] + b'\0\0\0\0' + table[8:]) != crc:
            self.stop('malformed', 'the VHDX region table is missing or its checksum does not match')
        if count > 2047:
            self.stop('malformed', 'the VHDX region table claims %d entries' % count)
        regions = dict((name, struct.unpack('<QI', entry[16:28]))
                       for name, entry in self.vhdx_entries(table[16:], count, _VHDX_REGIONS, (28, 1), 'region').items())
        if set(regions) != set(['bat', 'metadata']):
            self.stop('malformed', 'the VHDX region table lacks the %s region'
                      % ' and '.join(sorted(set(['bat', 'metadata']) - set(regions))))
        items = self.vhdx_metadata(*regions['metadata'])
        block_size, flags = struct.unpack('<II', items['file_parameters'][:8])
        result.virtual_size = struct.unpack('<Q', items['virtual_disk_size'][:8])[0]
        logical = struct.unpack('<I', items['logical_sector_size'][:4])[0]
        result.details.update(block_size=block_size, logical_sector_size=logical)
        if flags & 2:
            self.refuse('unsupported', 'a differencing VHDX (has a parent): qemu cannot read it')
        if not MiB <= block_size <= 256 * MiB or block_size & (block_size - 1):
            self.refuse('malformed', 'a VHDX block size of %d bytes' % block_size)
            return
        if logical not in (512, 4096):
            self.refuse('malformed', 'a VHDX logical sector size of %d bytes' % logical)
            return
        if result.virtual_size > 64 * 1024 ** 4:
            self.refuse('malformed', 'a VHDX of %d bytes (the format allows 64 TiB)' % result.virtual_size)
            return
        chunk = (1 << 23) * logical // block_size
        data_blocks = _ceil_div(result.virtual_size, block_size)
        entries = data_blocks + (data_blocks - 1) // chunk if data_blocks else 0
        bat_offset, bat_length = regions['bat']
        if entries * 8 > bat_length:
            self.refuse('malformed', 'the VHDX block table region is too small for its size')
        if bat_length > MAX_TABLE_BYTES:
            self.refuse('oversized_metadata', 'the VHDX block table region is %d bytes' % bat_length)
        if bat_offset + bat_length > self.size:
            self.refuse('malformed', 'the VHDX block table lies beyond the end of the file')

    def vhdx_entries(self, table, count, known, required, what):
        """The 32-byte entries of a VHDX table by known name; ``required`` is (offset, bit) of the required flag."""
        found = {}
        for index in range(count):
            entry = table[32 * index:32 * index + 32]
            guid = str(uuid.UUID(bytes_le=entry[:16]))
            name = known.get(guid)
            if name is None:
                if struct.unpack('<I', entry[required[0]:required[0] + 4])[0] & required[1]:
                    self.refuse('unknown_feature', 'an unknown required VHDX %s %s' % (what, guid))
            elif name in found:
                self.stop('malformed', 'the VHDX %s %s appears twice' % (what, name))
            else:
                found[name] = entry
        return found

    def vhdx_metadata(self, offset, length):
        """The metadata items qemu needs, each as bytes; refuses unknown required ones."""
        if offset % MiB or offset + length > self.size or length < 64 * KiB:
            self.stop('malformed', 'the VHDX metadata region (%d bytes at %d) lies outside the file' % (length, offset))
        table = self.src.read_padded(offset, 64 * KiB)
        signature, count = struct.unpack('<8s2xH', table[:12])
        if signature != b'metadata' or count > 2047:
            self.stop('malformed', 'the VHDX metadata table is missing or claims %d entries' % count)
        items = {}
        for name, entry in self.vhdx_entries(table[32:], count, _VHDX_ITEMS, (24, 4), 'metadata item').items():
            item_offset, item_length = struct.unpack('<II', entry[16:24])
            if item_length and (item_offset < 64 * KiB or item_offset + item_length > length or item_length > MiB):
                self.stop('malformed', 'the VHDX metadata item %s lies outside its region' % name)
            items[name] = self.src.read_padded(offset + item_offset, max(8, min(item_length, 4096)))
        missing = set(_VHDX_ITEMS.values()) - set(items) - set(['parent_locator'])
        if missing:
            self.stop('malformed', 'the VHDX metadata lacks %s' % ', '.join(sorted(missing)))
        return items

    # other formats
    def parse_vdi(self):
        result = self.result
        self.need(512, 'VDI header')
        header = self.head[:512]
        version, _header_size, image_type = struct.unpack('<III', header[0x44:0x50])
        bmap, data, _c, _h, _s, sector_size, _u = struct.unpack('<IIIIIII', header[0x154:0x170])
        size, block_size, _extra, blocks = struct.unpack('<QIII', header[0x170:0x184])
        link, parent = header[0x1A8:0x1B8], header[0x1B8:0x1C8]
        result.virtual_size = size
        result.subformat = {1: 'dynamic', 2: 'static', 3: 'undo', 4: 'differencing'}.get(image_type)
        if version != 0x00010001:
            self.stop('bad_version', 'VDI version %d.%d (qemu reads 1.1)' % (version >> 16, version & 0xFFFF))
        if image_type not in (1, 2):
            self.refuse('unsupported', 'VDI image type %d (qemu reads dynamic and static images)' % image_type)
        if link.strip(b'\0') or parent.strip(b'\0'):
            self.refuse('unsupported', 'a VDI image linked to a parent image')
        if bmap % 512 or data % 512 or sector_size != 512 or block_size != MiB:
            self.refuse('malformed', 'a VDI header with offsets, sector or block size qemu refuses')
        if size > blocks * block_size:
            self.refuse('malformed', 'the VDI block map has room for %d bytes, not %d' % (blocks * block_size, size))
        if blocks * 4 > MAX_TABLE_BYTES:
            self.refuse('oversized_metadata', 'the VDI block map claims %d entries' % blocks)

    def parse_luks(self):
        result = self.result
        result.encrypted = True
        self.need(208, 'LUKS header')
        version = struct.unpack('>H', self.head[6:8])[0]
        if version == 1:
            result.subformat = 'luks1'
            payload = struct.unpack('>I', self.head[104:108])[0] * 512
            result.details.update(cipher='%s-%s' % (_cstring(self.head[8:40]), _cstring(self.head[40:72])),
                                  payload_offset=payload)
            if payload > self.size:
                self.refuse('malformed', 'the LUKS payload offset %d lies beyond the end of the file' % payload)
            else:
                result.virtual_size = self.size - payload
        elif version == 2:
            result.subformat = 'luks2'
            self.note('luks2', 'LUKS version 2: qemu-img 7.2 reads LUKS version 1 only')
        else:
            self.refuse('bad_version', 'LUKS version %d' % version)

    def parse_parallels(self):
        result = self.result
        self.need(64, 'parallels header')
        (version, _heads, _cylinders, tracks, bat_entries, sectors, _inuse, _data_off, _flags,
         _ext) = struct.unpack('<IIIIIQIIIQ', self.head[16:64])
        if version != 2:
            self.stop('bad_version', 'parallels version %d (qemu reads 2)' % version)
        if self.head[:16] == b'WithoutFreeSpace':
            sectors &= 0xFFFFFFFF
        result.virtual_size = sectors * 512
        if tracks == 0 or tracks > 0x7FFFFFFF // 513:
            self.refuse('malformed', 'a parallels cluster of %d sectors' % tracks)
        if bat_entries * 4 > MAX_TABLE_BYTES:
            self.refuse('oversized_metadata', 'the parallels block table claims %d entries' % bat_entries)

    def parse_bochs(self):
        result = self.result
        self.need(512, 'bochs header')
        header = self.head[:512]
        kinds = (_cstring(header[:32]), _cstring(header[32:48]), _cstring(header[48:64]))
        version = struct.unpack('<I', header[64:68])[0]
        if kinds != ('Bochs Virtual HD Image', 'Redolog', 'Growing') or version not in (0x10000, 0x20000):
            self.stop('malformed', 'a bochs header of type %s/%s version %#x (qemu reads growing redologs)'
                      % (kinds[1], kinds[2], version))
        catalog, _bitmap, extent = struct.unpack('<III', header[72:84])
        disk = struct.unpack('<Q', header[84:92] if version == 0x10000 else header[88:96])[0]
        result.virtual_size = disk // 512 * 512
        if catalog > 0x100000:
            self.refuse('oversized_metadata', 'the bochs catalog claims %d entries' % catalog)
        if extent < 512 or extent & (extent - 1) or extent > 0x800000:
            self.refuse('malformed', 'a bochs extent of %d bytes' % extent)
        elif catalog < _ceil_div(disk // 512, extent // 512):
            self.refuse('malformed', 'the bochs catalog is too small for its size')

    def parse_cloop(self):
        self.need(136, 'cloop header')
        block_size, blocks = struct.unpack('>II', self.head[128:136])
        self.result.virtual_size = blocks * block_size
        if block_size == 0 or block_size % 512 or block_size > 64 * MiB:
            self.refuse('malformed', 'a cloop block size of %d bytes' % block_size)
        if (blocks + 1) * 8 > MAX_TABLE_BYTES:
            self.refuse('oversized_metadata', 'the cloop offset table claims %d entries' % blocks)

    def parse_dmg(self):
        trailer = self.tail[-512:]
        version, header_size = struct.unpack('>II', trailer[4:12])
        self.result.virtual_size = struct.unpack('>Q', trailer[492:500])[0] * 512
        if header_size != 512:
            self.refuse('malformed', 'a dmg trailer of %d bytes (512 expected)' % header_size)
        self.result.details['version'] = version


_QCOW2_KNOWN_EXTENSIONS = frozenset([0xE2792ACA, 0x6803F857, 0x23852875, 0x0537BE77, 0x44415441])
_VHDX_REGIONS = {
    '2dc27766-f623-4200-9d64-115e9bfd4a08': 'bat',
    '8b7ca206-4790-4b9a-b8fe-575f050f886e': 'metadata',
}
_VHDX_ITEMS = {
    'caa16737-fa36-4d43-b3b6-33f0aa44e76b': 'file_parameters',
    '2fa54224-cd1b-4876-b211-5dbed83bf4b8': 'virtual_disk_size',
    'beca12ab-b2e6-4523-93ef-c309e000c746': 'page83',
    '8141bf1d-a96f-4709-ba47-f233a8faab5f': 'logical_sector_size',
    'cda348c7-445d-4471-9cc9-e9885251c556': 'physical_sector_size',
    'a8d35f2d-b30b-454d-abf7-d3d84834ab0c': 'parent_locator',
}


def _agree(result, claimed):
    name = FORMAT_ALIASES.get(claimed, claimed)
    if name not in FORMATS:
        result._refuse('format_mismatch', 'it was declared as %r, which is not an image format this collection knows'
                       % claimed)
        return
    agrees = result.qemu_format == 'raw' if name == 'raw' else result.format == name
    if agrees:
        return
    if name == 'raw':
        message = ('it was declared as raw but its header says %s: read as raw, a guest would see that header and '
                   'anything that later guesses the format would follow it' % result.format)
    elif result.qemu_format == 'raw':
        message = 'it was declared as %s but no %s header was found: it is raw data (%s)' % (name, name, result.format)
    else:
        message = 'it was declared as %s but its header says %s' % (name, result.format)
    result._refuse('format_mismatch', message)


def inspect_file(handle, path=None, size=None, claimed_format=None, allow=(), max_virtual_size=None,
                 names_only=False):
    """Inspect an open binary file object; see :func:`inspect`."""
    if size is None:
        size = handle.seek(0, os.SEEK_END)
    result = Inspection(path, size, claimed_format=claimed_format, allow=allow)
    source = _Source(handle, size)
    try:
        _Inspector(source, result, names_only).run()
    except _Refused as exc:
        result._refuse(*exc.reason)
    except OSError as exc:
        raise InspectError('Cannot read %s to inspect it: %s. Run the task as a user that may read it (become), '
                           'or fix its owner and mode.' % (path or 'the image', exc.strerror or exc), path)
    result.bytes_read = source.bytes_read
    if claimed_format:
        _agree(result, claimed_format)
    if max_virtual_size is not None and result.virtual_size is not None and result.virtual_size > max_virtual_size:
        result._refuse('too_large', 'its virtual size of %s bytes exceeds the limit of %s'
                       % (result.virtual_size, max_virtual_size))
    return result


def inspect(path, claimed_format=None, allow=(), max_virtual_size=None, names_only=False):
    """Inspect the image at ``path`` (a regular file or a block device); see the module documentation.

    ``names_only`` is for scans that want only the names a header refers to
    (image_cache_prune reads thousands of overlays): the format is recognised
    from the first NAMES_HEAD_BYTES alone, which every format that can name a
    backing file announces there, and the end of the file is not read. What
    that loses are the formats recognised further in or at the end (ISO 9660,
    a fixed VHD, a DMG), which then read as raw, and with them the polyglot
    check; do not use it for a verdict.
    """
    _check_allow(allow)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0))
    except OSError as exc:
        raise InspectError('Cannot read %s to find its format: %s. Run the task as a user that may read it (become), '
                           'or fix its owner and mode.' % (path, exc.strerror), path)
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode)):
        os.close(fd)
        raise InspectError('%s is not a regular file or a block device, so it cannot be an image.' % path, path)
    with os.fdopen(fd, 'rb') as handle:
        return inspect_file(handle, path=path, claimed_format=claimed_format, allow=allow,
                            max_virtual_size=max_virtual_size, names_only=names_only)


def _inside(path, roots):
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def inspect_chain(path, roots, claimed_format=None, allow=(), max_depth=MAX_CHAIN, max_virtual_size=None,
                  missing_ok=False):
    """Inspect ``path`` and, if ``allow`` holds ``backing_file``, every image of its backing chain; top first.

    Each backing file is inspected with the format its parent declares as the
    claimed one, so a raw backing file that carries a qcow2 header is refused
    like any other. ``roots`` lists the directories backing files may lie in
    (their real paths, symbolic links resolved); a backing file elsewhere is
    refused on the image that names it (code ``backing_outside``) and not read.
    ``roots=None`` accepts any directory: a header can name any host file, so
    pass None only when every backing file was vetted otherwise. A chain that
    loops or is longer than ``max_depth`` is refused (``backing_chain``). The
    chain is safe when every inspection in it is. With ``missing_ok``, a
    backing file that does not exist ends the chain (there is nothing to open
    and nothing to refuse); without it, it raises :class:`InspectError`.
    """
    allow = _check_allow(allow)
    chain = [inspect(path, claimed_format=claimed_format, allow=allow, max_virtual_size=max_virtual_size)]
    real_roots = None if roots is None else [os.path.realpath(root) for root in roots]
    seen = set([os.path.realpath(path)])
    while 'backing_file' in allow and chain[-1].backing_path is not None:
        parent = chain[-1]
        real = os.path.realpath(parent.backing_path)
        if real_roots is not None and not _inside(real, real_roots):
            parent._refuse('backing_outside', 'its backing file %s lies outside %s' % (real, ', '.join(roots)))
            break
        if real in seen or len(chain) >= max_depth:
            parent._refuse('backing_chain', 'its backing chain %s' % (
                'loops back to %s' % real if real in seen else 'is longer than %d images' % max_depth))
            break
        seen.add(real)
        if missing_ok and not os.path.lexists(parent.backing_path):
            break
        try:
            chain.append(inspect(parent.backing_path, claimed_format=parent.backing_format, allow=allow,
                                 max_virtual_size=max_virtual_size))
        except InspectError as exc:
            raise InspectError('%s names backing file %s, which cannot be inspected: %s'
                               % (parent.path, parent.backing_path, exc.msg), parent.path)
    return chain


def format_from_header(header):
    """Return the format qemu should be told for a file starting with ``header`` (bytes), else ``raw``."""
    return inspect_file(io.BytesIO(header), size=len(header)).qemu_format


def detect_format(path):
    """Return the format of the image at ``path`` as qemu names it (``raw`` when no signature matches).

    This names a format only; use :func:`inspect` for the verdict.
    """
    return inspect(path).qemu_format
