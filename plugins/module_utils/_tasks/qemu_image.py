# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The task of the qemu_image module, shared with image_plan, which runs it for one entry of a plan.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.
"""

from __future__ import annotations

from ansible_collections.hypervisor.images.plugins.module_utils._fs import MISSING
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import InspectError, detect_format
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import (
    CHECKABLE,
    FORMATS,
    WrongFormatError,
    encode_options,
    other_file_options,
    refuse_in_use,
)
from ansible_collections.hypervisor.images.plugins.module_utils._task import ImageTask
from ansible_collections.hypervisor.images.plugins.module_utils._units import (
    SizeError,
    human_and_bytes,
    parse_size,
)

RESERVED_OPTIONS = {
    'size': 'use the size option',
    'backing_fmt': 'use hypervisor.images.cow_image for overlays',
}
# qemu-img info names for creation options it reports back, and how to compare them.
COMPARABLE_OPTIONS = ('cluster_size', 'compat', 'lazy_refcounts', 'refcount_bits', 'extended_l2',
                      'compression_type')
COMPAT_ALIASES = {'v2': '0.10', 'v3': '1.1'}


def _normalized_option(key, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('on', 'true', 'yes'):
        return True
    if text in ('off', 'false', 'no'):
        return False
    if key in ('cluster_size', 'refcount_bits'):
        try:
            return parse_size(text)
        except SizeError:
            return text
    if key == 'compat':
        return COMPAT_ALIASES.get(text, text)
    return text


def option_differences(options, facts):
    """Creation options that differ from what the existing image reports."""
    reported = dict((facts.get('format_specific') or {}).get('data') or {})
    reported['cluster_size'] = facts.get('cluster_size')
    differences = []
    for key in sorted(options):
        name = str(key).replace('-', '_')
        if name not in COMPARABLE_OPTIONS or reported.get(name) is None or options[key] is None:
            continue
        if _normalized_option(name, options[key]) != _normalized_option(name, reported[name]):
            differences.append('%s=%s (the image has %s)' % (key, options[key], reported[name]))
    return differences


class QemuImage(ImageTask):

    device_hint = 'this module manages image files, not devices'

    def __init__(self, module):
        super(QemuImage, self).__init__(module, module.params['path'])
        self.format = self.params['format']
        self.result['path'] = self.path
        self.size = None
        self.options = {}

    def validate(self):
        if self.params['repair'] and self.format not in CHECKABLE:
            self.fail('repair: qemu-img cannot check or repair %s images (they have no metadata to repair); leave '
                      'repair out.' % self.format)
        self.size = self.parse_size_param('size')
        options = dict(self.params['options'] or {})
        for key, hint in RESERVED_OPTIONS.items():
            if key in options:
                self.fail('options: %s cannot be given here; %s.' % (key, hint))
        for problem in other_file_options(self.format, options):
            self.fail('options: %s. Nothing was written.' % problem)
        preallocation = self.params['preallocation']
        if preallocation is not None:
            if 'preallocation' in options and str(options['preallocation']) != preallocation:
                self.fail('preallocation=%s and options.preallocation=%s disagree; give one of them.'
                          % (preallocation, options['preallocation']))
            options['preallocation'] = preallocation
        try:
            encode_options(options)
        except ValueError as exc:
            self.fail('options: %s' % exc)
        self.options = options

    def preflight(self):
        kind = self.refuse_non_file()
        if kind == MISSING and self.params['state'] == 'present':
            if self.size is None:
                self.fail('%s does not exist and no size was given: set size (for example size: 10G) to create it.'
                          % self.path)
            self.require_directory()
        return kind

    def lock(self, kind):
        if kind == MISSING and self.params['state'] == 'absent':
            return None
        return super(QemuImage, self).lock(kind)

    def decide_and_act(self, kind):
        if self.params['state'] == 'absent':
            self.remove(kind)
        elif kind == MISSING:
            self.create()
        else:
            self.update()

    def create(self):
        self.result['changed'] = True
        self.diff['before'] = {'path': self.path, 'state': 'absent'}
        self.diff['after'] = {'path': self.path, 'state': 'present', 'format': self.format,
                              'virtual_size': self.size}
        if self.module.check_mode:
            self.result['cmd'] = self.qemu.create_argv(self.path, self.format, size=self.size, options=self.options)
            self.result.update({'format': self.format, 'virtual_size': self.size, 'actual_size': None})
            return
        result = self.write_atomically(
            lambda tmp: self.qemu.create(tmp, self.format, size=self.size, options=self.options))
        self.result['cmd'] = result.cmd
        self.report(self.current_facts())

    def current_facts(self):
        try:
            return self.facts(declared_format=self.format)
        except WrongFormatError as exc:
            try:
                found = detect_format(self.path)
            except InspectError:
                found = 'unknown'
            self.fail_from(exc, '%s exists but is not a %s image (its header says %s). qemu_image never converts '
                                'an image in place: convert it with hypervisor.images.image_convert, or remove it '
                                'first with state: absent if its data is not needed.'
                                % (self.path, self.format, found))

    def update(self):
        facts = self.current_facts()
        current = facts['virtual_size']
        before = {'path': self.path, 'state': 'present', 'format': facts['format'], 'virtual_size': current}
        self.diff['before'] = dict(before)
        self.diff['after'] = dict(before)

        differences = option_differences(self.options, facts)
        if differences:
            self.module.warn('%s already exists; options only apply when an image is created, and these differ: %s.'
                             % (self.path, ', '.join(differences)))

        resize = self.size is not None and self.size != current
        if resize or self.params['repair'] or self.interrupted:
            # qemu-img is about to open the image (and, to resize it, its backing chain) to change or check it.
            self.vet(self.path, claimed=self.format, allow_backing=self.params['allow_backing_file'])
        self.check_and_repair()
        if resize:
            facts = self.resize(facts)

        self.update_file_attributes()
        self.report(facts)

    def resize(self, facts):
        current = facts['virtual_size']
        shrink = self.size < current
        if shrink and not self.params['allow_shrink']:
            self.report(facts)
            self.fail(
                '%s is %s; size %s would shrink it and lose the data past the new end. Shrink the file systems '
                'inside first and set allow_shrink: true, or ask for a size of at least %s.'
                % (self.path, human_and_bytes(current), human_and_bytes(self.size), human_and_bytes(current)))
        self.result['changed'] = True
        self.diff['after']['virtual_size'] = self.size
        preallocation = None if shrink else self.params['preallocation']
        if self.module.check_mode:
            self.result['cmd'] = self.qemu.resize_argv(self.path, self.format, self.size, shrink=shrink,
                                                       preallocation=preallocation)
            return dict(facts, virtual_size=self.size)
        self.result['cmd'] = self.qemu.resize(self.path, self.format, self.size, shrink=shrink,
                                              preallocation=preallocation).cmd
        return self.current_facts()

    def check_and_repair(self):
        """Check the image's metadata when asked to repair it, or after a change to it was interrupted.

        Leaks (clusters allocated but unused) are what a killed write leaves;
        they waste space and are harmless otherwise. ``repair: leaks`` frees
        them; ``repair: all`` also repairs corruptions, which may lose data.
        """
        repair = self.params['repair']
        if not (repair or self.interrupted) or self.format not in CHECKABLE:
            return
        found = self.qemu.check(self.path, self.format)
        self.result['check'] = found
        to_repair = found['leaks'] + (found['corruptions'] if repair == 'all' else 0)
        if not repair or not to_repair:
            if found['leaks'] or found['corruptions']:
                self.module.warn(
                    '%s has %d leaked clusters and %d corruptions%s. Set repair: leaks to free the leaked clusters%s.'
                    % (self.path, found['leaks'], found['corruptions'],
                       ' (a change to it was interrupted)' if self.interrupted else '',
                       '' if not found['corruptions'] else ', and repair: all to repair the corruptions (this can '
                       'lose data: copy the image first)'))
            return
        refuse_in_use(self.path, 'check -r %s' % repair)
        self.result['changed'] = True
        self.diff['before']['check'] = dict((key, found[key]) for key in ('leaks', 'corruptions'))
        self.diff['after']['check'] = {'leaks': 0, 'corruptions': 0 if repair == 'all' else found['corruptions']}
        if self.module.check_mode:
            self.result['cmd'] = self.qemu.check_argv(self.path, self.format, repair=repair)
            return
        repaired = self.qemu.check(self.path, self.format, repair=repair)
        self.result['cmd'] = repaired.pop('cmd')
        self.result['repaired'] = repaired
        self.diff['after']['check'] = dict((key, repaired[key]) for key in ('leaks', 'corruptions'))


def module_args():
    """The keyword arguments of the module's AnsibleModule."""
    return dict(
        argument_spec=dict(
            path=dict(type='path', required=True),
            format=dict(type='str', default='qcow2', choices=list(FORMATS)),
            size=dict(type='str'),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            preallocation=dict(type='str', choices=['off', 'metadata', 'falloc', 'full']),
            options=dict(type='dict', default={}),
            allow_shrink=dict(type='bool', default=False),
            repair=dict(type='str', choices=['leaks', 'all']),
            allow_backing_file=dict(type='bool', default=False),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
    )
