# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The task of the mkfs module, shared with image_plan, which runs it for one entry of a plan.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.
"""

from __future__ import annotations

import os

from ansible_collections.hypervisor.images.plugins.module_utils._atomic import DestinationLock, DeviceLock
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems import probe, registry
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.opts import split_opts
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.tools import Tools
from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.users import Users
from ansible_collections.hypervisor.images.plugins.module_utils._fs import BLOCK_DEVICE, FILE, MISSING, path_kind
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import detect_format
from ansible_collections.hypervisor.images.plugins.module_utils._task import ImageTask
from ansible_collections.hypervisor.images.plugins.module_utils._units import human_and_bytes


class Mkfs(ImageTask):
    """Validate, then decide: create, replace (with force), update (label, UUID, size) or wipe."""

    device_hint = 'give a raw image file or a block device'

    def __init__(self, module):
        super(Mkfs, self).__init__(module, module.params['dev'])
        self.tools = Tools()
        self.users = Users(self.tools)
        self.fs = registry.TYPES.get(self.params['fstype'])
        self.label = self.params['label']
        self.uuid = None
        self.opts = []
        self.opts_uuid = None
        self.kind = None
        self.geometry = None
        self._usage = {}
        self.result.update({'dev': self.path, 'fstype': None, 'label': None, 'uuid': None, 'size': None})

    # -- parameters and preflight ------------------------------------------

    def validate(self):
        if self.params['state'] == 'absent':
            return  # the other options are ignored, as community.general.filesystem does
        fs = self.fs
        try:
            self.opts = split_opts(self.params['opts'])
        except ValueError as exc:
            self.fail(str(exc))
        problem = fs.label_problem(self.label) if self.label is not None else None
        if problem:
            self.fail('label: %s.' % problem)
        if self.params['uuid'] is not None:
            if not fs.uuid_flags:
                self.fail('uuid: a %s %s has no UUID this module can set; leave uuid out.' % (fs.name, fs.what))
            self.uuid = self.parse_uuid(self.params['uuid'], 'uuid')
        self.label, self.uuid, self.opts_uuid, warnings = fs.with_opts(self.label, self.uuid, self.opts)
        for warning in warnings:
            self.module.warn(warning)

    def parse_uuid(self, value, where):
        try:
            return self.fs.normalize_uuid(value)
        except ValueError as exc:
            self.fail('%s: %r is not a valid %s UUID: %s.' % (where, value, self.fs.name, exc))

    def preflight(self):
        kind = path_kind(self.path)
        if kind == MISSING:
            if self.params['state'] == 'present':
                self.fail('%s does not exist. mkfs does not create image files: create a raw image first with '
                          'hypervisor.images.qemu_image (format: raw, size: ...), or give the path of a block device.'
                          % self.path)
            return kind
        if kind not in (FILE, BLOCK_DEVICE):
            self.fail('%s is a %s, not a raw image file or a block device.' % (self.path, kind))
        if kind == FILE and self.params['state'] == 'present' and not self.fs.regular_file:
            self.fail('%s is a regular file; %s makes an LVM physical volume on a block device only. Attach '
                      'the image to a loop device first (losetup --find --show %s) and give the loop device as dev.'
                      % (self.path, self.fs.mkfs_tool, self.path))
        return kind

    def lock(self, kind):
        # Image files lock .NAME.lock beside them, block devices the device node.
        if kind == FILE:
            return DestinationLock(self.path)
        if kind == BLOCK_DEVICE:
            return DeviceLock(self.path)
        return None

    # -- the run -------------------------------------------------------------

    def decide_and_act(self, kind):
        self.kind = kind
        if self.kind == MISSING:
            self.diff['before'] = self.diff['after'] = {'fstype': None, 'label': None, 'uuid': None}
            return
        try:
            self.decide()
        except OSError as exc:
            self.fail('Cannot read %s: %s.' % (self.path, exc.strerror or exc))

    def decide(self):
        self.refuse_non_raw()
        self.result['size'] = probe.device_size(self.path)
        found = probe.probe(self.tools, self.path)
        self.diff['before'] = self.facts_of(found)
        self.report_probe(found)
        if self.params['state'] == 'absent':
            self.wipe()
        elif found.holds_only(self.fs):
            if self.params['force'] and not self.params['resizefs'] and self.params['uuid'] is None:
                # community.general.filesystem's force: make the file system anew, with a new UUID.
                self.replace(found, again=True)
            else:
                self.update(found)
        elif found.empty:
            self.create()
        else:
            self.replace(found)

    def refuse_non_raw(self):
        found = detect_format(self.path)
        if found in ('raw', 'luks'):
            # A LUKS header is a signature like any other here (blkid reports crypto_LUKS): refused without force.
            return
        if self.params['state'] == 'absent':
            self.fail('%s is a %s image (its header says so), not a raw image or a device; wipefs would not erase its '
                      'header. To get rid of the image, remove it with hypervisor.images.qemu_image (state: absent).'
                      % (self.path, found))
        self.fail('%s is a %s image (its header says so), not a raw image or a device. mkfs would overwrite the image '
                  'header and destroy the image, so this is refused even with force. Give the path of a raw image: '
                  'create one with hypervisor.images.qemu_image (format: raw) or convert this one with '
                  'hypervisor.images.image_convert (dest_format: raw).' % (self.path, found))

    # -- state: present --------------------------------------------------------

    def create(self, replaced=None):
        """Make the file system on an empty device, or over the signatures ``replaced`` (as wipefs lists them).

        Over signatures, mkfs runs first, with its own force flags, and only
        once it succeeded are the signatures it left of other types erased:
        a mkfs that fails leaves what was there as it was. A device too small
        for the type is refused before anything runs.
        """
        fs = self.fs
        problem = fs.create_problem(self.label, self.opts)
        if problem:
            self.fail(problem)
        problem = fs.size_problem(self.result['size'], self.opts)
        if problem:
            self.fail('%s is %s, and %s. Nothing was changed. Grow the image (hypervisor.images.qemu_image, size) '
                      'or give a larger dev.' % (self.path, human_and_bytes(self.result['size']), problem))
        self.refuse_in_use('format')
        uuid = self.uuid
        label = self.label if self.label is not None and fs.opts_label(self.opts) is None else None
        commands = [fs.mkfs_argv(self.tools, self.path, label=label, uuid=uuid, opts=self.opts,
                                 regular_file=self.kind == FILE, force=replaced is not None)]
        leftovers = probe.wipe(self.tools, self.path, replaced, keep=fs.blkid_types) if replaced else None
        if leftovers:
            commands.append(leftovers)
        if fs.uuid_after_mkfs(uuid):
            # mkfs cannot take this keyword (xfs: nil): set it afterwards with the file system's tool.
            commands += self.relabel_commands(uuid=uuid)
        after = {'fstype': fs.name, 'label': self.label, 'uuid': fs.predicted_uuid(uuid, self.opts_uuid)}
        self.diff['after'] = dict(after)
        self.run_commands(commands, after)

    def replace(self, found, again=False):
        listed = probe.signatures(self.tools, self.path)
        self.diff['before']['signatures'] = [entry['type'] for entry in listed]
        what = registry.describe(found)
        if found.ambivalent and listed:
            what = 'several signatures (%s); blkid cannot tell which one is in use' % ', '.join(
                entry['type'] for entry in listed)
        if not again and not self.params['force']:
            self.fail('%s already carries %s, where %s was asked for. Set force: true to erase it and make %s (what it '
                      'holds is lost), or give another dev.' % (self.path, what, self.wanted(), self.wanted('new')))
        self.create(replaced=listed)

    def wanted(self, adjective=None):
        words = ([adjective] if adjective else []) + [self.fs.name, self.fs.what]
        return ('an ' if words[0][0] in 'aeiox' else 'a ') + ' '.join(words)

    def update(self, found):
        """A file system of the right type is there: adjust its label, UUID and size."""
        fs = self.fs
        label = self.label if self.label is not None and self.label != found.label else None
        uuid = fs.uuid_change(self.uuid, fs.reported_uuid(found.uuid))
        if self.opts_uuid is not None and self.uuid is None and self.opts_uuid not in fs.keywords:
            # A UUID set in opts is compared too, so that the second run does not change anything.
            wanted = self.parse_uuid(self.opts_uuid, 'opts')
            uuid = wanted if wanted != fs.reported_uuid(found.uuid) else None
        problem = fs.relabel_problem(label) if label is not None else None
        if problem:
            self.fail('The %s %s on %s is labelled %r; %s. Choose another label, or erase it with state: absent and '
                      'make it again with this label.' % (fs.name, fs.what, self.path, found.label, problem))
        new_uuid = uuid if uuid is not None and uuid not in fs.keywords else None
        after = {'fstype': fs.name, 'label': label if label is not None else found.label,
                 'uuid': new_uuid if uuid is not None else found.uuid}
        self.diff['after'] = dict(after)
        size_before = self.fs_size() if self.params['resizefs'] or self.module._diff else None
        commands = []
        if label is not None or uuid is not None:
            commands = self.relabel_commands(label=label, uuid=uuid, found=found)
            self.refuse_in_use('change')
        if self.params['resizefs']:
            commands += self.plan_resize(found, size_before)
        if commands:
            self.run_commands(commands, after)

    def relabel_commands(self, label=None, uuid=None, found=None):
        try:
            return self.fs.relabel_argvs(self.tools, self.path, label=label, uuid=uuid, probe=found)
        except ValueError as exc:
            self.fail('The %s %s on %s has the UUID %s, not %s, and %s: erase it with state: absent and make it again '
                      'with this uuid, or leave uuid out.' % (self.fs.name, self.fs.what, self.path,
                                                              found.uuid if found else None, uuid, exc))

    # -- sizes and resizefs --------------------------------------------------------

    def usage(self, online=False):
        """(device, mount point) pairs of ``dev`` (for an image file, of its loop devices), and other users."""
        if online not in self._usage:
            self._usage[online] = self.users.usage(self.path, self.kind == BLOCK_DEVICE, online=online)
        return self._usage[online]

    def fs_size(self, after=False):
        """The size of the file system in bytes as read from it (None where this module cannot tell).

        What was read is kept in ``self.geometry`` for the growth plan.
        """
        self.geometry = self.fs.read_geometry(self.tools, self.path, lambda: self.usage(online=True)[0])
        size = self.geometry.size if self.geometry is not None else None
        if size is not None or self.fs.grows:
            self.set_fs_size(size, after=after)
        return size

    def plan_resize(self, found, current):
        """The commands that grow the file system (of ``current`` bytes) into the device: none when it fills it."""
        fs = self.fs
        if not fs.grows:
            self.fail('resizefs: growing an existing %s %s is not supported by this module (it grows %s).%s Or leave '
                      'resizefs out.' % (fs.name, fs.what, registry.growing_types(), fs.grow_hint))
        size = self.result['size']
        mounts, reasons = self.usage(online=fs.grows_online)
        if current is None:
            self.fail('%s carries a %s signature, but this module cannot read the size of the %s on it; erase it with '
                      'state: absent and make it again, or leave resizefs out.' % (self.path, fs.name, fs.what))
        if current > size:
            self.fail('The %s %s on %s is %s, larger than the %s it is on: the image or device was shrunk under it and '
                      'it is damaged. Grow %s back to at least %s.'
                      % (fs.name, fs.what, self.path, human_and_bytes(current), human_and_bytes(size),
                         self.path, human_and_bytes(current)))
        target = max(current, fs.grown_size(self.path, self.geometry, size))
        if target <= current:
            return []
        problem = fs.mounted_grow_problem(self.path, mounts[0][1]) if mounts and not reasons else None
        if problem:
            self.fail(problem)
        if reasons or (mounts and not fs.grows_online):
            self.refuse_in_use('grow')
        problem = fs.unmounted_grow_problem(self.path, current, target) if not mounts else None
        if problem:
            self.fail(problem)
        if len(set(point for dummy, point in mounts)) > 1:
            self.fail('%s is mounted more than once (%s); grow it by hand or unmount all but one.'
                      % (self.path, ', '.join(point for dummy, point in mounts)))
        commands = []
        device, point = mounts[0] if mounts else (self.path, None)
        if device != self.path and probe.device_size(device) < size:
            # The loop device has not seen the image grow yet.
            commands.append(self.users.set_capacity_argv(device))
        commands.append(fs.grow_argv(self.tools, self.path, device, point, self.geometry, found))
        self.set_fs_size(target, after=True)
        return commands

    def set_fs_size(self, size, after=False):
        self.result['fs_size'] = size
        if not after:
            self.diff['before']['size'] = size
        self.diff['after']['size'] = size

    # -- state: absent ------------------------------------------------------------

    def wipe(self):
        listed = probe.signatures(self.tools, self.path)
        self.diff['before']['signatures'] = [entry['type'] for entry in listed]
        self.diff['after'] = {'fstype': None, 'label': None, 'uuid': None, 'signatures': []}
        if not listed:
            return
        self.refuse_in_use('wipe')
        self.run_commands([probe.wipe(self.tools, self.path, listed)], {'fstype': None, 'label': None, 'uuid': None})
        if not self.module.check_mode:
            left = probe.signatures(self.tools, self.path)
            if left:
                self.fail('wipefs ran but %s still carries signatures: %s.' % (self.path, probe.describe_signatures(left)))

    # -- shared -------------------------------------------------------------------

    def refuse_in_use(self, action):
        try:
            reasons = self.users.reasons(self.path, self.kind == BLOCK_DEVICE)
        except OSError as exc:
            self.fail('Cannot tell whether %s is in use: %s.' % (self.path, exc.strerror or exc))
        if reasons:
            self.fail('%s is in use (%s); mkfs does not %s an image or device in use, even with force. Unmount it '
                      '(an image mounted with -o loop is detached with its mount; otherwise detach its loop device '
                      'with losetup -d), swapoff it, or stop the virtual machine or process that has it open first.'
                      % (self.path, '; '.join(reasons), action))

    def run_commands(self, commands, predicted):
        """Run ``commands`` in order (not in check mode) and report the result."""
        self.result['changed'] = True
        self.result['commands'] = commands
        self.result['cmd'] = commands[-1]
        if self.module.check_mode:
            self.result.update(predicted)
            return
        for argv in commands:
            self.tools.run(argv, '%s on %s' % (os.path.basename(argv[0]), self.path))
        found = probe.probe(self.tools, self.path)
        self.report_probe(found)
        if self.params['state'] == 'present':
            self.check_outcome(found, predicted)
        self.diff['after'].update(self.facts_of(found))
        if 'size' in self.diff['after']:
            before = self.diff['before'].get('size')
            self.fs_size()
            self.diff['before']['size'] = before

    def check_outcome(self, found, predicted):
        tool = os.path.basename(self.result['cmd'][0])
        if not found.holds_only(self.fs):
            self.fail('%s ran, but blkid now finds %s on %s instead of %s.'
                      % (tool, registry.describe(found), self.path, self.wanted()))
        for key, value in (('label', found.label), ('uuid', self.fs.reported_uuid(found.uuid))):
            if predicted[key] is not None and value != predicted[key]:
                self.fail('%s ran, but the %s of the %s on %s is %r, not %r.'
                          % (tool, key, self.fs.what, self.path, value, predicted[key]))

    def report_probe(self, found):
        self.result.update({'fstype': self.fstype_of(found), 'label': found.label, 'uuid': found.uuid})

    def fstype_of(self, found):
        """The type found, by the name fstype gives it (ext4dev for an ext4 when asked for, lvm), else blkid's."""
        return registry.fstype_of(found.type if not found.ambivalent else None, self.fs)

    def facts_of(self, found):
        facts = {'fstype': self.fstype_of(found) if found.type else None, 'label': found.label, 'uuid': found.uuid}
        if found.pttype:
            facts['partition_table'] = found.pttype
        return facts


def module_args():
    """The keyword arguments of the module's AnsibleModule."""
    return dict(
        argument_spec=dict(
            dev=dict(type='path', required=True, aliases=['path', 'device']),
            fstype=dict(type='str', choices=list(registry.FSTYPES), aliases=['type']),
            force=dict(type='bool', default=False),
            opts=dict(type='raw'),
            label=dict(type='str'),
            uuid=dict(type='str'),
            resizefs=dict(type='bool', default=False),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        ),
        required_if=[('state', 'present', ['fstype'])],
        mutually_exclusive=[('resizefs', 'uuid')],
        supports_check_mode=True,
    )
