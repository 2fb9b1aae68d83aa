# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What image_convert and image_snapshot_extract share.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

Both write ``dest`` with ``qemu-img convert`` from a source they must not
trust, and both decide "nothing to do" from a source record kept on ``dest``
(see :mod:`._identity`) without reading image data. The decision:

* ``dest`` missing, or ``force``: convert.
* ``dest`` carries a record that still holds: nothing to do when it names the
  same source, unchanged, and the same settings; convert again otherwise.
* ``dest`` carries no record, or was changed since it was written (someone
  else made or modified it): it is neither trusted nor overwritten. A module
  that can compare (``can_adopt``) runs ``qemu-img compare`` once; when the
  guest-visible data is the same, it records the source and reports no
  change; otherwise, and for modules that cannot compare, the task fails and
  asks for ``force``.

Before writing, ``qemu-img measure`` tells how many bytes the result needs;
less free space in the destination's file system fails the task with the
numbers. The cache mode ``auto`` probes the destination directory for O_DIRECT
(as Nova does) and picks ``none`` or ``writeback``. :class:`Conversion` holds
these steps of one conversion; image_fetch runs it too, for ``to_raw``.
"""

from __future__ import annotations

import os

from ansible_collections.hypervisor.images.plugins.module_utils._fs import (
    BLOCK_DEVICE,
    FILE,
    MISSING,
    direct_io_supported,
    fs_usage,
    path_kind,
)
from ansible_collections.hypervisor.images.plugins.module_utils._identity import (
    compare_record,
    file_identity,
    read_record,
    write_record,
)
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import DETECTABLE_FORMATS, detect_format
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import (
    CACHE_MODES,
    COMPRESSIBLE,
    FORMATS,
    QemuImgError,
    encode_options,
    other_file_options,
)
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError
from ansible_collections.hypervisor.images.plugins.module_utils._task import BACKING, ImageTask
from ansible_collections.hypervisor.images.plugins.module_utils._units import human_and_bytes


def convert_argument_spec():
    """Options both conversion modules take."""
    return dict(
        src=dict(type='path', required=True),
        dest=dict(type='path', required=True),
        dest_format=dict(type='str', required=True, choices=list(FORMATS)),
        compress=dict(type='bool', default=False),
        cache_mode=dict(type='str', default='auto', choices=['auto'] + list(CACHE_MODES)),
        options=dict(type='dict', default={}),
        parallel=dict(type='int'),
        out_of_order=dict(type='bool', default=False),
        check_free_space=dict(type='bool', default=True),
        allow_backing_file=dict(type='bool', default=False),
        force=dict(type='bool', default=False),
    )


def choose_cache_mode(requested, directory):
    """The ``-t`` cache mode for writing into ``directory``."""
    if requested != 'auto':
        return requested
    return 'none' if direct_io_supported(directory) else 'writeback'


def require_headroom(dest, required, what, basis, check=True):
    """Raise a TaskError when the file system that will hold ``dest`` has less than ``required`` bytes free.

    ``what`` says what would be written (``convert SRC``), ``basis`` where the
    figure comes from (``qemu-img measure``); ``check`` false skips the check.
    """
    if not check:
        return
    directory = os.path.dirname(dest)
    usage = fs_usage(directory)
    if required <= usage['free']:
        return
    raise TaskError('Not enough space to %s into %s: the result needs %s according to %s, and the file system holding '
                    '%s has %s free, %s short. Free some space, write elsewhere, or set check_free_space: false if '
                    'this file system compresses or deduplicates. Nothing was written.'
                    % (what, dest, human_and_bytes(required), basis, directory, human_and_bytes(usage['free']),
                       human_and_bytes(required - usage['free'])), dest)


class Conversion:
    """One ``qemu-img convert`` of ``src`` into a temporary file beside ``dest``: the space it needs, its cache mode,
    its command line.

    ``flags`` are QemuImg.convert's other keyword arguments (compress,
    parallel, out_of_order); ``options`` and ``snapshot`` shape the measure too.
    """

    def __init__(self, qemu, src, src_format, dest, dest_format, options=None, snapshot=None, **flags):
        self.qemu = qemu
        self.src = src
        self.src_format = src_format
        self.dest = dest
        self.dest_format = dest_format
        self.options = dict(options or {})
        self.snapshot = snapshot
        self.flags = flags
        self.cache_mode = None

    def required_bytes(self):
        """Bytes the result needs, from qemu-img measure (with preallocation: all of it)."""
        measured = self.qemu.measure(self.src, self.src_format, self.dest_format, options=self.options,
                                     snapshot=self.snapshot)
        if str(self.options.get('preallocation', 'off')) in ('full', 'falloc'):
            return measured['fully-allocated']
        return measured['required']

    def check_headroom(self, required, action, check=True, what=None):
        """Fail unless the ``required`` bytes measured fit beside ``dest`` (see :func:`require_headroom`)."""
        require_headroom(self.dest, required, '%s %s' % (action, what or self.src), 'qemu-img measure', check)

    def choose_cache_mode(self, requested):
        """Resolve ``auto`` with the O_DIRECT probe (its file is always removed, so check mode runs it too)."""
        self.cache_mode = choose_cache_mode(requested, os.path.dirname(self.dest))
        return self.cache_mode

    def _kwargs(self):
        return dict(self.flags, cache_mode=self.cache_mode, options=self.options, snapshot=self.snapshot)

    def argv(self, target):
        return self.qemu.convert_argv(self.src, target, self.src_format, self.dest_format, **self._kwargs())

    def run(self, target):
        """Convert into ``target`` (the temporary file); returns the CommandResult."""
        return self.qemu.convert(self.src, target, self.src_format, self.dest_format, **self._kwargs())


class ConvertTask(ImageTask):
    """A conversion of ``src`` into ``dest``; subclasses describe the source."""

    device_hint = ('writing images onto block devices is not supported: conversions are written to a temporary '
                   'file and renamed, which a device cannot be; convert to a file, then copy it onto the device')
    #: whether a destination without a record may be compared with the source and adopted
    can_adopt = True
    #: the verb used in messages
    action = 'convert'

    def __init__(self, module):
        super(ConvertTask, self).__init__(module, module.params['dest'])
        self.src = os.path.abspath(module.params['src'])
        self.dest_format = self.params['dest_format']
        self.options = dict(self.params['options'] or {})
        self.src_format = None
        self.src_facts = None
        self.chain = []
        self.result.update({'dest': self.path, 'src': self.src})

    # -- what subclasses provide -----------------------------------------

    def wanted_record(self):
        """The source record ``dest`` should carry once converted."""
        raise NotImplementedError

    def convert_kwargs(self):
        """Extra keyword arguments for QemuImg.convert and QemuImg.measure."""
        return {}

    def inspect_source(self):
        """Set ``src_format``, ``src_facts`` and ``chain``; fail on a source that must not be read."""
        raise NotImplementedError

    def vet_source(self, claimed):
        """Vet the source and its backing chain, then read its facts with qemu-img, which must agree."""
        self.chain = self.vet(self.src, claimed=claimed, allow_backing=self.params['allow_backing_file'])
        allow = BACKING if self.params['allow_backing_file'] else ()
        self.src_facts = self.facts(self.src, inspection=self.chain[0], allow=allow)
        self.src_format = self.src_facts['format']

    def source_identity(self):
        """The identity of the source file and, with allow_backing_file, of every file of its backing chain."""
        identity = file_identity(self.src)
        if len(self.chain) > 1:
            identity['chain'] = [dict(file_identity(item.path), path=os.path.abspath(item.path))
                                 for item in self.chain[1:]]
        return identity

    # -- checks ----------------------------------------------------------

    def validate(self):
        for key in ('size', 'backing_file', 'backing_fmt'):
            if key in self.options:
                self.fail('options: %s cannot be set on a conversion; qemu-img takes it from the source.' % key)
        for problem in other_file_options(self.dest_format, self.options):
            self.fail('options: %s. Nothing was written.' % problem)
        try:
            encode_options(self.options)
        except ValueError as exc:
            self.fail('options: %s' % exc)
        if self.params['compress'] and self.dest_format not in COMPRESSIBLE:
            self.fail('compress: qemu-img can only compress %s output, not %s. Convert to qcow2 with compress: true, '
                      'or leave compress off.' % (' and '.join(COMPRESSIBLE), self.dest_format))
        parallel = self.params['parallel']
        if parallel is not None and not 1 <= parallel <= 16:
            self.fail('parallel: %d is out of range; qemu-img convert -m takes 1 to 16 coroutines.' % parallel)
        if os.path.realpath(self.src) == os.path.realpath(self.path):
            self.fail('src and dest are the same file (%s); %s into another path.' % (self.src, self.action))

    def preflight(self):
        kind = path_kind(self.src)
        if kind == MISSING:
            self.fail('The source %s does not exist; nothing was written and %s is as it was.' % (self.src, self.path))
        if kind not in (FILE, BLOCK_DEVICE):
            self.fail('The source %s is a %s, not an image.' % (self.src, kind))
        dest_kind = self.refuse_non_file(what='an image file')
        self.require_directory()
        return dest_kind

    # -- the decision ----------------------------------------------------

    def decide_and_act(self, kind):
        self.inspect_source()
        self.result['src_format'] = self.src_format
        wanted = self.wanted_record()
        if kind == MISSING:
            self.diff['before'] = {'path': self.path, 'state': 'absent'}
            return self.convert(wanted, '%s does not exist' % self.path)
        if self.params['force']:
            self.diff['before'] = self.describe()
            return self.convert(wanted, 'force is set')
        stored = read_record(self.path)
        if stored is not None:
            reasons = compare_record(stored, wanted)
            if not reasons:
                return self.nothing_to_do()
            self.diff['before'] = dict(self.describe(), source=stored['source'].get('path'))
            return self.convert(wanted, '; '.join(reasons))
        self.adopt_or_refuse(wanted)

    def nothing_to_do(self):
        facts = self.facts(declared_format=self.dest_format)
        self.diff['before'] = self.diff['after'] = self.state_of(facts)
        self.update_file_attributes()
        self.report(facts)

    def state_of(self, facts):
        return {'path': self.path, 'state': 'present', 'format': facts['format'],
                'virtual_size': facts['virtual_size'], 'source': self.src}

    def adopt_or_refuse(self, wanted):
        """``dest`` exists without a record that holds: compare once, or refuse."""
        force_hint = ('Set force: true to replace it, or remove it first if it is not needed.')
        found = detect_format(self.path)
        # Formats the header magic cannot tell (a fixed VHD, say) read as raw; qemu-img checks those.
        if found != self.dest_format and (found != 'raw' or self.dest_format in DETECTABLE_FORMATS):
            self.fail('%s exists as a %s image, not %s, and was not made by this module from %s. %s'
                      % (self.path, found, self.dest_format, self.src, force_hint))
        if not self.can_adopt:
            self.fail('%s exists but carries no record of being made from %s by this module (or was changed since). '
                      'It cannot be compared with the source without reading it whole. %s'
                      % (self.path, self.src, force_hint))
        try:
            same = self.qemu.compare(self.src, self.path, self.src_format, self.dest_format)
        except QemuImgError as exc:
            self.fail_from(exc, '%s exists without a record of being made from %s, and comparing the two failed: %s '
                                '%s' % (self.path, self.src, exc.msg, force_hint))
        if not same:
            self.fail('%s exists, was not made by this module from %s (or was changed since), and its data differs '
                      'from the source. %s' % (self.path, self.src, force_hint))
        facts = self.facts(declared_format=self.dest_format)
        if not self.module.check_mode:
            self.result['record'] = write_record(self.path, self.path, wanted)
        self.result['adopted'] = True
        self.diff['before'] = self.diff['after'] = self.state_of(facts)
        self.update_file_attributes()
        self.report(facts)

    # -- the conversion --------------------------------------------------

    def unchanged(self, wanted):
        """``wanted``, once the source is seen not to have changed while it was converted."""
        if self.wanted_record()['source'] != wanted['source']:
            raise TaskError('%s changed while it was being converted; the result matches neither its old nor its new '
                            'content, so nothing was recorded and %s was left as it was. Run the task again when '
                            'nothing writes to the source.' % (self.src, self.path), self.src)
        return wanted

    def convert(self, wanted, reason):
        self.result['reason'] = reason
        conversion = Conversion(self.qemu, self.src, self.src_format, self.path, self.dest_format, options=self.options,
                                compress=self.params['compress'], parallel=self.params['parallel'],
                                out_of_order=self.params['out_of_order'], **self.convert_kwargs())
        self.result['required_bytes'] = conversion.required_bytes()
        conversion.check_headroom(self.result['required_bytes'], self.action, self.params['check_free_space'])
        self.result['changed'] = True
        virtual_size = (self.src_facts or {}).get('virtual_size')
        self.diff['after'] = {'path': self.path, 'state': 'present', 'format': self.dest_format,
                              'virtual_size': virtual_size, 'source': self.src}
        self.result['cache_mode'] = conversion.choose_cache_mode(self.params['cache_mode'])
        if self.module.check_mode:
            self.result['cmd'] = conversion.argv(self.path)
            self.result.update({'format': self.dest_format, 'virtual_size': virtual_size, 'actual_size': None})
            return
        result = self.write_atomically(conversion.run, record=lambda produced: self.unchanged(wanted),
                                       what=self.action)
        self.result['cmd'] = result.cmd
        self.report(self.facts(declared_format=self.dest_format))
