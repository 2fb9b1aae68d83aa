#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: mkfs
short_description: Make file systems, swap areas and LVM physical volumes on raw images and block devices
version_added: 0.1.0
description:
  - Makes sure a raw image file or a block device carries a file system (or a swap area, or an LVM physical volume) of
    a given type, as Nova does for ephemeral disks and swap disks, or carries no signature at all.
  - What is on O(dev) is read with C(blkid -p -c /dev/null) (libblkid's low-level probe, without its cache; its exit
    status tells a signature from nothing and from an error) and C(wipefs --no-act), never guessed. The header magic
    of an image file is read too, so that a qcow2 (or any other non-raw) image is never formatted.
  - A file system of the requested type is left alone; a different O(label) or O(uuid) is set on it with the file
    system's own tool, and O(resizefs=true) grows it into O(dev). Anything else on O(dev) (another file system, a
    partition table, a LUKS header, an LVM or RAID member, several signatures) makes the task fail, naming what was
    found, unless O(force=true).
  - Nothing is written to a device or image that is in use (mounted, an active swap area, held by device mapper or
    md, open in a qemu process such as a running virtual machine, or an image file attached to a loop device that
    is), even with O(force=true). The one exception is O(resizefs=true), which grows ext2, ext3, ext4, xfs and btrfs
    file systems while they are mounted, as their tools do.
  - The argument names, aliases and semantics are those of the C(community.general.filesystem) module, so a task can
    switch by changing the module name. The differences, all on the side of safety or idempotence, are listed in the
    notes.
  - Tasks on the same image file wait for each other on a lock file beside it; on a block device they take an
    exclusive lock on the device node, which udev honours.
author:
  - hypervisor.images contributors (@hypervisor-images)
requirements:
  - C(blkid), C(wipefs) (util-linux) and C(losetup) (Debian package C(mount)) on the managed host.
  - "The tools of the file system type, only when they are needed: C(mkfs.ext2), C(mkfs.ext3), C(mkfs.ext4), C(tune2fs),
    C(dumpe2fs) and C(resize2fs) (e2fsprogs); C(mkfs.xfs), C(xfs_db), C(xfs_info) and C(xfs_growfs) (xfsprogs);
    C(mkfs.btrfs), C(btrfs) and C(btrfstune) (btrfs-progs); C(mkfs.vfat) and C(fatlabel) (dosfstools); C(mkswap) and
    C(swaplabel) (util-linux); C(mkfs.f2fs), C(f2fslabel) and C(resize.f2fs) (f2fs-tools); C(mkfs.reiserfs) and
    C(reiserfstune) (reiserfsprogs); C(mkfs.ocfs2) and C(tunefs.ocfs2) (ocfs2-tools); C(mkfs.gfs2) and C(tunegfs2)
    (gfs2-utils); C(pvcreate), C(pvchange), C(pvs) and C(pvresize) (lvm2)."
extends_documentation_fragment:
  - hypervisor.images.attributes
  - hypervisor.images.attributes.actiongroup_images
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the type, label and UUID before and after, the signatures that were found when something else
        than the requested file system was there, and the size of the file system (C(size), in bytes) where this
        module can read it (ext2, ext3, ext4, xfs, btrfs, swap, f2fs and lvm).
options:
  dev:
    description:
      - Path of a raw image file or of a block device on the managed host.
      - A missing file is not created; the task fails. Create the raw image first with
        M(hypervisor.images.qemu_image) (O(hypervisor.images.qemu_image#module:format=raw)).
      - An image file whose header declares another format than raw (qcow2, vmdk, ...) is refused, even with
        O(force=true), since mkfs would overwrite the image header and destroy the image.
      - A directory or a character device is refused. O(fstype=lvm) needs a block device (attach an image file to a
        loop device first).
    type: path
    required: true
    aliases: [path, device]
  fstype:
    description:
      - Type of the file system to make. V(swap) makes a swap area with C(mkswap); V(lvm) makes an LVM physical volume
        with C(pvcreate).
      - V(ext4dev) is made with C(mkfs.ext4); an ext4 file system counts as V(ext4dev) and the other way round.
      - V(ocfs2) is made for the cluster stack by default; on a host without one, add C(-M local) to O(opts).
      - Required with O(state=present); ignored with O(state=absent).
    type: str
    choices: [ext2, ext3, ext4, ext4dev, xfs, btrfs, vfat, swap, f2fs, reiserfs, ocfs2, gfs2, lvm]
    aliases: [type]
  force:
    description:
      - Allow replacing what O(dev) carries (another file system, a partition table, a LUKS header, several signatures)
        by a new file system of type O(fstype). Its signatures are erased with C(wipefs --all) first, then the file
        system is made; the data on O(dev) is lost.
      - A file system of type O(fstype) that is already there is made anew (with a new UUID) on every run, as
        C(community.general.filesystem) does, unless O(resizefs) or O(uuid) is given; the task then always reports a
        change.
      - O(force) never allows writing to a device or image in use, nor formatting an image that is not raw.
    type: bool
    default: false
  opts:
    description:
      - Extra arguments for the mkfs command, as a string split as a shell would split it (without running one), or
        as a list of arguments. They come after the module's own arguments, just before the device.
      - They are only used when a file system is made.
      - A label or a UUID set here (for example C(-L data) or C(-m uuid=...) for xfs) wins over O(label) and O(uuid),
        and is the one later runs compare with.
    type: raw
  label:
    description:
      - Label of the file system (C(-L) for ext2, ext3, ext4, xfs, btrfs, swap and ocfs2, C(-n) for vfat, C(-l) for
        f2fs and reiserfs).
      - For gfs2, the label is the lock table, V(CLUSTER:NAME) (C(mkfs.gfs2 -t)). gfs2 needs one, unless O(opts) ask
        for C(-p lock_nolock).
      - An existing file system of type O(fstype) with another label is relabelled with C(tune2fs) (ext2, ext3, ext4),
        C(xfs_db) as C(xfs_admin) runs it (xfs), C(btrfs filesystem label), C(fatlabel), C(swaplabel), C(f2fslabel),
        C(reiserfstune), C(tunefs.ocfs2) or C(tunegfs2), while it is not in use.
      - Printable ASCII only. At most 16 characters for ext2, ext3, ext4 and reiserfs, 12 for xfs, 255 for btrfs, 11
        for vfat (not any of C(*?.,;:/\|+=<>[]")), 15 for swap, 512 for f2fs, 63 for ocfs2. An existing xfs file
        system is only relabelled to a label without spaces or quotes. LVM physical volumes have no label.
      - When omitted, the label of an existing file system is left as it is.
    type: str
  uuid:
    description:
      - UUID of the file system, such as V(0b7e0ef0-1a51-4c47-9d4e-6c1d0a3e4b2f); for vfat, a volume ID of 8
        hexadecimal digits such as V(1A2B-3C4D); for lvm, an LVM identifier such as
        V(Tc9HdL-0Ab1-C2d3-E4f5-G6h7-I8j9-K0l1Mn).
      - It is given to mkfs when the file system is made. An existing file system of type O(fstype) with another UUID
        gets this one with C(tune2fs -U) (ext2, ext3, ext4), C(xfs_db) as C(xfs_admin -U) runs it (xfs),
        C(btrfstune -U) (btrfs, which rewrites all its metadata), C(fatlabel -i) (vfat), C(swaplabel -U) (swap),
        C(reiserfstune -u) (reiserfs), C(tunefs.ocfs2 --uuid-reset) (ocfs2) or C(tunegfs2 -U) (gfs2), while it is not
        in use. The UUID of an existing f2fs file system cannot be changed, nor can an LVM physical volume be given a
        chosen one after it is made; the task fails instead.
      - A UUID is only changed when it differs from the one there, so the task is idempotent.
      - The tools' own keywords are passed through. V(clear) (ext2, ext3, ext4, swap) and V(nil) (xfs) ask for the nil
        UUID and are idempotent. V(random) (ext2, ext3, ext4, swap, reiserfs, lvm), V(time) (ext2, ext3, ext4, swap,
        reiserfs) and V(generate) (xfs) ask for a new UUID, and get one on every run, so the task always reports a
        change, as with C(community.general.filesystem).
      - When omitted, a new file system gets a random UUID and the UUID of an existing one is left as it is.
      - Mutually exclusive with O(resizefs).
    type: str
  resizefs:
    description:
      - Grow an existing file system of type O(fstype) to fill O(dev), for example after its raw image was grown with
        M(hypervisor.images.qemu_image). Nothing is done when it already fills O(dev).
      - The decision follows what the tool will do (whole blocks, pages or sectors; resize2fs's rule for a last block
        group too small to hold its own metadata; the smallest allocation group XFS adds), so a second run reports no
        change.
      - ext2, ext3 and ext4 grow with C(resize2fs), unmounted or mounted (online). resize2fs refuses to grow an
        unmounted file system that was mounted since its last check; the task then fails and asks for C(e2fsck -f)
        first.
      - xfs (C(xfs_growfs)) and btrfs (C(btrfs filesystem resize)) grow only while mounted; the task fails when such a
        file system is not mounted and would grow.
      - swap grows with C(mkswap) over the whole of O(dev), keeping the UUID and the label; f2fs with C(resize.f2fs)
        while unmounted; lvm with C(pvresize).
      - When O(dev) is an image file attached to a mounted loop device, the loop device is told the new size of the
        file (C(losetup --set-capacity)) first, and the file system grows through it.
      - Growing vfat, reiserfs, ocfs2 and gfs2 is not supported; the task fails.
      - Mutually exclusive with O(uuid).
    type: bool
    default: false
  state:
    description:
      - V(present) makes the file system, or adjusts the label, UUID and size of an existing one.
      - V(absent) erases every signature on O(dev) (file systems, swap areas, partition tables, LUKS headers, LVM
        labels) with C(wipefs --all); afterwards blkid finds nothing there. The data stays but can no longer be found
        by its signatures. Nothing happens when there is none, or when O(dev) does not exist.
      - With O(state=absent), the options other than O(dev) are ignored.
    type: str
    choices: [present, absent]
    default: present
notes:
  - mkfs writes in place, on O(dev) itself; an interrupted run can leave a half-made file system, which the next run
    reports as such (or cannot recognise). This is unlike the modules that produce whole image files atomically.
  - An image or device open in a qemu process (a running virtual machine, qemu-nbd, qemu-img) is found by the image
    locks qemu holds on it. A virtual machine started with image locking off (C(file.locking=off)) is not detected.
  - C(mkfs.ext2), C(mkfs.ext3) and C(mkfs.ext4) get C(-E nodiscard) for image files, so that the blocks of a
    preallocated image stay allocated (mke2fs would otherwise punch holes into it). An C(-E) in O(opts) replaces it.
  - "Differences from C(community.general.filesystem): O(label) is an addition; O(uuid) is idempotent for UUIDs and
    also works for btrfs, vfat, swap, reiserfs, ocfs2 and gfs2; partition tables and other signatures are found too;
    mounted or otherwise used devices are never written; non-raw images are never formatted; O(resizefs) grows ext
    file systems while mounted, swap areas too, and reports no change once the file system fills what the tool can
    use, but does not grow vfat (C(fatresize) does not work on image files); gfs2 is an addition; bcachefs and ufs are
    not offered."
  - Check mode decides everything as a real run does, but cannot foresee a failure of the tool itself, such as a
    device too small for the file system (xfs needs 300 MiB, btrfs about 110 MiB).
seealso:
  - module: hypervisor.images.qemu_image
  - module: hypervisor.images.qemu_image_info
  - name: community.general.filesystem
    description: The module whose arguments this one takes.
    link: https://docs.ansible.com/ansible/latest/collections/community/general/filesystem_module.html
'''

EXAMPLES = r'''
- name: Create a 20 GiB raw ephemeral disk
  hypervisor.images.qemu_image:
    path: /var/lib/nova/instances/0b7e/disk.eph0
    format: raw
    size: 20G

- name: Make an ext4 file system on it, labelled as Nova labels ephemeral disks
  hypervisor.images.mkfs:
    dev: /var/lib/nova/instances/0b7e/disk.eph0
    fstype: ext4
    label: ephemeral0

- name: Make a swap area on a raw swap disk
  hypervisor.images.mkfs:
    dev: /var/lib/nova/instances/0b7e/disk.swap
    fstype: swap
    label: swap0

- name: Make an XFS file system with a fixed UUID and extra mkfs.xfs options
  hypervisor.images.mkfs:
    dev: /dev/vg0/scratch
    fstype: xfs
    uuid: 0b7e0ef0-1a51-4c47-9d4e-6c1d0a3e4b2f
    opts: -m reflink=1 -i maxpct=10

- name: Grow the ephemeral disk, then its file system
  block:
    - name: Grow the raw image
      hypervisor.images.qemu_image:
        path: /var/lib/nova/instances/0b7e/disk.eph0
        format: raw
        size: 40G

    - name: Grow the ext4 file system into it
      hypervisor.images.mkfs:
        dev: /var/lib/nova/instances/0b7e/disk.eph0
        fstype: ext4
        resizefs: true

- name: Replace whatever the disk carries by a vfat file system (its data is lost)
  hypervisor.images.mkfs:
    dev: /var/lib/nova/instances/0b7e/disk.config
    fstype: vfat
    label: config-2
    force: true

- name: Grow the mounted XFS file system of an image attached to a loop device, after the image grew
  hypervisor.images.mkfs:
    dev: /srv/images/scratch.raw
    fstype: xfs
    resizefs: true

- name: Make an LVM physical volume on a disk for the instances volume group
  hypervisor.images.mkfs:
    dev: /dev/sdb
    fstype: lvm

- name: Make a GFS2 file system for the shared instances directory of cluster hv
  hypervisor.images.mkfs:
    dev: /dev/mapper/shared-instances
    fstype: gfs2
    label: hv:instances
    opts: -j 3

- name: Give an ext4 file system the nil UUID (idempotent; random would change it on every run)
  hypervisor.images.mkfs:
    dev: /var/lib/nova/instances/0b7e/disk.eph0
    fstype: ext4
    uuid: clear

- name: Erase every signature on a disk
  hypervisor.images.mkfs:
    dev: /var/lib/nova/instances/0b7e/disk.eph0
    state: absent
'''

RETURN = r'''
dev:
  description: Absolute path of the image file or device.
  returned: always
  type: str
  sample: /var/lib/nova/instances/0b7e/disk.eph0
fstype:
  description: Type of the file system on O(dev) afterwards (predicted in check mode); V(null) when there is none.
  returned: always
  type: str
  sample: ext4
label:
  description: Label of the file system, as blkid reports it; V(null) when it has none.
  returned: always
  type: str
  sample: ephemeral0
uuid:
  description:
    - UUID of the file system (for vfat its volume ID), as blkid reports it.
    - V(null) when there is none, and in check mode when a new file system would get a random one.
  returned: always
  type: str
  sample: 0b7e0ef0-1a51-4c47-9d4e-6c1d0a3e4b2f
size:
  description: Size of the image file or device in bytes; V(null) when O(dev) does not exist.
  returned: always
  type: int
  sample: 21474836480
fs_size:
  description:
    - Size of the file system (for swap, of the swap area; for lvm, of the physical volume) in bytes, afterwards
      (predicted in check mode).
  returned: when O(resizefs=true) or in diff mode, for an existing ext2, ext3, ext4, ext4dev, xfs, btrfs, swap, f2fs or
    lvm file system
  type: int
  sample: 21474836480
cmd:
  description: The last command that ran (or would run in check mode) to change O(dev), as an argv list.
  returned: when a command ran or would run
  type: list
  elements: str
  sample: [/usr/sbin/mkfs.ext4, -E, nodiscard, -L, ephemeral0, --, /var/lib/nova/instances/0b7e/disk.eph0]
commands:
  description: Every command that ran (or would run in check mode) to change O(dev), in order, as argv lists.
  returned: when a command ran or would run
  type: list
  elements: list
  sample: [[/usr/sbin/wipefs, --all, --, /srv/disk.raw], [/usr/sbin/mkfs.vfat, -n, CONFIG, --, /srv/disk.raw]]
'''

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._atomic import DestinationLock, DeviceLock
from ansible_collections.hypervisor.images.plugins.module_utils._task import ImageTask
from ansible_collections.hypervisor.images.plugins.module_utils._fs import BLOCK_DEVICE, FILE, MISSING, path_kind
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import detect_format
from ansible_collections.hypervisor.images.plugins.module_utils._mkfs import (
    EXT_TYPES,
    FSTYPES,
    NIL_UUID,
    SPECS,
    FsTools,
    btrfs_grow_argv,
    describe_signatures,
    device_size,
    f2fs_grow_argv,
    label_problem,
    mkfs_argv,
    mkfs_takes_uuid,
    normalize_uuid,
    opts_value,
    pvresize_argv,
    read_btrfs_device,
    read_f2fs_size,
    read_swap_header,
    relabel_argvs,
    resize_ext_argv,
    set_capacity_argv,
    split_opts,
    wipe_argv,
    xfs_grow_argv,
)
from ansible_collections.hypervisor.images.plugins.module_utils._units import human_and_bytes

# Keywords that ask for a new UUID each time they are used; the others (clear, nil) ask for the nil UUID.
NEW_UUID_KEYWORDS = ('random', 'generate', 'time')
# File systems that grow while mounted (online), and those that grow only while mounted.
ONLINE_GROW = ('ext2', 'ext3', 'ext4', 'ext4dev', 'xfs', 'btrfs', 'lvm')
MOUNTED_GROW = ('xfs', 'btrfs')


class Mkfs(ImageTask):

    device_hint = 'give a raw image file or a block device'

    def __init__(self, module):
        super(Mkfs, self).__init__(module, module.params['dev'])
        self.tools = FsTools(module)
        self.fstype = self.params['fstype']
        self.spec = SPECS.get(self.fstype)
        self.label = self.params['label']
        self.uuid = None
        self.opts = []
        self.opts_uuid = None
        self.kind = None
        self.geometry = None
        self._mounts = {}
        self.result.update({'dev': self.path, 'fstype': None, 'label': None, 'uuid': None, 'size': None})

    # -- parameters and preflight ------------------------------------------

    def validate(self):
        if self.params['state'] == 'absent':
            return  # the other options are ignored, as community.general.filesystem does
        spec = self.spec
        try:
            self.opts = split_opts(self.params['opts'])
        except ValueError as exc:
            self.fail(str(exc))
        if self.label is not None:
            problem = label_problem(spec, self.label)
            if problem:
                self.fail('label: %s.' % problem)
        if self.params['uuid'] is not None:
            if not spec.uuid_flags:
                self.fail('uuid: a %s %s has no UUID this module can set; leave uuid out.' % (spec.name, spec.what))
            self.uuid = self.parse_uuid(self.params['uuid'], 'uuid')
        # A label or UUID in opts wins over the options, as in community.general.filesystem.
        in_opts = opts_value(self.opts, spec.label_flags) if spec.label_flags else None
        if in_opts is not None:
            if self.label is not None and self.label != in_opts:
                self.module.warn('opts sets the label to %r, which wins over label (%r).' % (in_opts, self.label))
            self.label = in_opts
        in_opts = opts_value(self.opts, spec.uuid_flags) if spec.uuid_flags else None
        if in_opts is not None:
            try:
                same = normalize_uuid(spec, in_opts) == self.uuid
            except ValueError:
                same = False
            if self.uuid is not None and not same:
                self.module.warn('opts sets the UUID to %r, which wins over uuid (%r).' % (in_opts, self.uuid))
            # A keyword in opts is for mkfs only: it does not ask to change an existing UUID.
            self.uuid = None
            self.opts_uuid = in_opts

    def gfs2_lock_nolock(self):
        return opts_value(self.opts, ('-p',)) == 'lock_nolock'

    def parse_uuid(self, value, where):
        try:
            return normalize_uuid(self.spec, value)
        except ValueError as exc:
            self.fail('%s: %r is not a valid %s UUID: %s.' % (where, value, self.fstype, exc))

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
        if kind == FILE and self.params['state'] == 'present' and not self.spec.regular_file:
            self.fail('%s is a regular file; pvcreate makes an LVM physical volume on a block device only. Attach '
                      'the image to a loop device first (losetup --find --show %s) and give the loop device as dev.'
                      % (self.path, self.path))
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
        self.result['size'] = device_size(self.path)
        probe = self.tools.probe(self.path)
        self.diff['before'] = self.facts_of(probe)
        self.report_probe(probe)
        if self.params['state'] == 'absent':
            self.wipe(probe)
        elif probe.holds_only(self.spec):
            if self.params['force'] and not self.params['resizefs'] and self.params['uuid'] is None:
                # community.general.filesystem's force: make the file system anew, with a new UUID.
                self.replace(probe, again=True)
            else:
                self.update(probe)
        elif probe.empty:
            self.create()
        else:
            self.replace(probe)

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

    def create(self, wipe=None):
        """Make the file system on an empty device, or (with ``wipe``) after erasing its signatures."""
        if self.fstype == 'gfs2' and self.label is None and not self.gfs2_lock_nolock():
            self.fail('gfs2 needs its lock table as label, CLUSTER:NAME such as hv:images (the cluster name and a name '
                      'for the file system), or opts: -p lock_nolock for a file system that only one host mounts.')
        self.refuse_in_use('format')
        spec = self.spec
        tool = self.tools(spec.tool)
        uuid = self.uuid
        commands = [wipe] if wipe else []
        commands.append(mkfs_argv(tool, spec, self.path, label=self.label if self.label_from_option() else None,
                                  uuid=uuid, opts=self.opts, regular_file=self.kind == FILE))
        if uuid is not None and not mkfs_takes_uuid(spec, uuid) and uuid not in NEW_UUID_KEYWORDS:
            # mkfs cannot take this keyword (xfs: nil): set it afterwards with the file system's tool.
            commands += self.relabel_commands(uuid=uuid)
        predicted_uuid = uuid if uuid is not None and uuid not in spec.keywords else None
        if predicted_uuid is None and self.opts_uuid is not None and self.opts_uuid not in spec.keywords:
            try:
                predicted_uuid = normalize_uuid(spec, self.opts_uuid)
            except ValueError:
                predicted_uuid = None  # mkfs will say what is wrong with it
        after = {'fstype': self.fstype, 'label': self.label, 'uuid': predicted_uuid}
        self.diff['after'] = dict(after)
        self.run_commands(commands, after)

    def label_from_option(self):
        """Whether the label comes from the label option (else from opts, which already carry it)."""
        return self.label is not None and (not self.spec.label_flags
                                           or opts_value(self.opts, self.spec.label_flags) is None)

    def replace(self, probe, again=False):
        signatures = self.tools.signatures(self.path)
        self.diff['before']['signatures'] = [entry['type'] for entry in signatures]
        found = probe.describe()
        if probe.ambivalent and signatures:
            found = 'several signatures (%s); blkid cannot tell which one is in use' % ', '.join(
                entry['type'] for entry in signatures)
        if not again and not self.params['force']:
            self.fail('%s already carries %s, where %s was asked for. Set force: true to erase it and make %s (what it '
                      'holds is lost), or give another dev.' % (self.path, found, self.wanted(), self.wanted('new')))
        partition_table = any(entry.get('usage') == 'partition-table' for entry in signatures)
        self.create(wipe=wipe_argv(self.tools('wipefs'), self.path, partition_table=partition_table))

    def wanted(self, adjective=None):
        words = ([adjective] if adjective else []) + [self.fstype, self.spec.what]
        return ('an ' if words[0][0] in 'aeiox' else 'a ') + ' '.join(words)

    def update(self, probe):
        """A file system of the right type is there: adjust its label, UUID and size."""
        label = self.label if self.label is not None and self.label != probe.label else None
        uuid = self.uuid_change(probe)
        if self.opts_uuid is not None and self.uuid is None and self.opts_uuid not in self.spec.keywords:
            # A UUID set in opts is compared too, so that the second run does not change anything.
            wanted = self.parse_uuid(self.opts_uuid, 'opts')
            uuid = wanted if wanted != self.current_uuid(probe) else None
        if label is not None and self.fstype == 'xfs' and any(char.isspace() or char in '"\'' for char in label):
            self.fail('The xfs file system on %s is labelled %r; xfs_db cannot set a label with spaces or quotes (%r) on '
                      'an existing file system. Choose another label, or erase it with state: absent and make it again '
                      'with this label.' % (self.path, probe.label, label))
        new_uuid = uuid if uuid is not None and uuid not in self.spec.keywords else None
        after = {'fstype': self.fstype, 'label': label if label is not None else probe.label,
                 'uuid': new_uuid if uuid is not None else probe.uuid}
        self.diff['after'] = dict(after)
        size_before = self.fs_size(probe) if self.params['resizefs'] or self.module._diff else None

        commands = []
        if label is not None or uuid is not None:
            commands = self.relabel_commands(label=label, uuid=uuid, probe=probe)
            self.refuse_in_use('change')
        if self.params['resizefs']:
            commands += self.plan_resize(probe, size_before)
        if not commands:
            return
        self.run_commands(commands, after)

    def uuid_change(self, probe):
        """The UUID (or keyword) to give the existing file system, or None when it has the one asked for."""
        uuid = self.uuid
        if uuid is None:
            return None
        if uuid in NEW_UUID_KEYWORDS:
            return uuid  # a new one on every run, as asked
        current = self.current_uuid(probe)
        if uuid in ('clear', 'nil'):
            return uuid if current not in (None, NIL_UUID) else None
        return uuid if uuid != current else None

    def relabel_commands(self, label=None, uuid=None, probe=None):
        spec = self.spec
        if self.fstype == 'swap' and uuid is not None and uuid in spec.keywords:
            # swaplabel takes a UUID only; mkswap takes the keywords and keeps nothing else worth keeping.
            keep = label if label is not None else (probe.label if probe is not None else None)
            return [mkfs_argv(self.tools('mkswap'), spec, self.path, label=keep, uuid=uuid)]
        try:
            return relabel_argvs(self.tools, spec, self.path, label=label, uuid=uuid)
        except ValueError as exc:
            current = probe.uuid if probe is not None else None
            self.fail('The %s %s on %s has the UUID %s, not %s, and %s: erase it with state: absent and make it again '
                      'with this uuid, or leave uuid out.' % (self.fstype, spec.what, self.path, current, uuid, exc))

    def current_uuid(self, probe):
        if not probe.uuid:
            return None
        try:
            return normalize_uuid(self.spec, probe.uuid)
        except ValueError:
            return probe.uuid

    # -- sizes and resizefs --------------------------------------------------------

    def mounts(self, online=False):
        """(device, mount point) pairs of ``dev`` (for an image file, of its loop devices), and other users."""
        if online not in self._mounts:
            if self.kind == BLOCK_DEVICE:
                points, reasons = self.tools.block_device_usage(self.path, online=online)
                self._mounts[online] = ([(self.path, point) for point in points], reasons)
            else:
                self._mounts[online] = self.tools.file_usage(self.path, online=online)
        return self._mounts[online]

    def fs_size(self, probe):
        """The size of the file system in bytes as its tools report it (None where this module cannot tell).

        What was read to tell it is kept in ``self.geometry`` for the growth plan.
        """
        spec = self.spec
        size = None
        geometry = None
        if self.fstype in EXT_TYPES:
            # A mounted file system is read through the device it is mounted from.
            mounts, dummy = self.mounts(online=True)
            geometry = self.tools.ext_geometry(mounts[0][0] if mounts else self.path)
            size = geometry.size
        elif self.fstype == 'xfs':
            mounts, dummy = self.mounts(online=True)
            geometry = self.tools.xfs_geometry(self.path, mounts[0][1] if mounts else None)
            size = geometry.size
        elif self.fstype == 'btrfs':
            geometry = self.btrfs_device()
            size = geometry[1]
        elif self.fstype == 'swap':
            geometry = read_swap_header(self.path)
            size = geometry.size if geometry else None
        elif self.fstype == 'f2fs':
            size = read_f2fs_size(self.path)
        elif self.fstype == 'lvm':
            geometry = self.tools.pv(self.path)
            size = geometry['pv_size']
        self.geometry = geometry
        if size is not None or spec.grow:
            self.set_fs_size(size)
        return size

    def btrfs_device(self):
        """(devid, bytes of this device the file system uses, sector size)."""
        mounts, dummy = self.mounts(online=True)
        found = read_btrfs_device(self.path)
        if found is None:
            self.fail('%s has a btrfs signature but no btrfs superblock this module can read.' % self.path)
        devid, size, sector = found
        if mounts:
            for other_devid, other_size, dummy in self.tools.btrfs_devices(mounts[0][1]):
                if other_devid == devid:
                    size = other_size
        return devid, size, sector

    def plan_resize(self, probe, current):
        """The commands that grow the file system (of ``current`` bytes) into the device: none when it fills it."""
        spec = self.spec
        if not spec.grow:
            self.fail('resizefs: growing an existing %s %s is not supported by this module (it grows ext2, ext3, ext4, '
                      'ext4dev, xfs, btrfs, f2fs, swap and lvm).%s Or leave resizefs out.'
                      % (self.fstype, spec.what, ' vfat grows with fatresize, on a partition of a disk only.'
                                                 if self.fstype == 'vfat' else ''))
        size = self.result['size']
        online = self.fstype in ONLINE_GROW
        mounts, reasons = self.mounts(online=online)
        if current is None:
            self.fail('%s carries a %s signature, but this module cannot read the size of the %s on it; erase it with '
                      'state: absent and make it again, or leave resizefs out.' % (self.path, self.fstype, spec.what))
        if current > size:
            self.fail('The %s %s on %s is %s, larger than the %s it is on: the image or device was shrunk under it and '
                      'it is damaged. Grow %s back to at least %s.'
                      % (self.fstype, spec.what, self.path, human_and_bytes(current), human_and_bytes(size),
                         self.path, human_and_bytes(current)))
        target = self.grown_size(current, size)
        if target <= current:
            return []
        if self.fstype == 'f2fs' and mounts and not reasons:
            self.fail('The f2fs file system on %s is mounted on %s; resize.f2fs grows it only while unmounted. Unmount '
                      'it and run this task again.' % (self.path, mounts[0][1]))
        if reasons or (mounts and not online):
            self.refuse_in_use('grow')
        if self.fstype in MOUNTED_GROW and not mounts:
            self.fail('The %s file system on %s is %s and could grow to %s, but %s grows only while mounted. Mount it '
                      '(an image file with mount -o loop) and run this task again, or leave resizefs out.'
                      % (self.fstype, self.path, human_and_bytes(current), human_and_bytes(target),
                         'xfs_growfs' if self.fstype == 'xfs' else 'btrfs filesystem resize'))
        if len(set(point for dummy, point in mounts)) > 1:
            self.fail('%s is mounted more than once (%s); grow it by hand or unmount all but one.'
                      % (self.path, ', '.join(point for dummy, point in mounts)))
        commands = []
        device = self.path
        if mounts:
            device, point = mounts[0]
            if device != self.path and device_size(device) < size:
                # The loop device has not seen the image grow yet.
                commands.append(set_capacity_argv(self.tools('losetup'), device))
        commands.append(self.grow_argv(device, mounts[0][1] if mounts else None, probe))
        self.set_fs_size(target, after=True)
        return commands

    def grown_size(self, current, size):
        """The size the grow command gives the file system on a device of ``size`` bytes (``current`` if none)."""
        geometry = self.geometry
        if self.fstype in EXT_TYPES:
            blocks = geometry.grown_block_count(size, page_size=os.sysconf('SC_PAGE_SIZE'))
            return max(current, blocks * geometry.block_size)
        if self.fstype == 'xfs':
            return max(current, geometry.grown_blocks(size) * geometry.block_size)
        if self.fstype == 'btrfs':
            sector = geometry[2]
            return max(current, size - size % sector)
        if self.fstype == 'swap':
            page_size = os.sysconf('SC_PAGE_SIZE')
            if geometry.page_size != page_size:
                self.fail('The swap area on %s was made with %d-byte pages and this host uses %d-byte pages; mkswap '
                          'here would change its page size. Grow it on a host with %d-byte pages, or erase it and make '
                          'it again.' % (self.path, geometry.page_size, page_size, geometry.page_size))
            return max(current, size - size % page_size)
        if self.fstype == 'f2fs':
            block = 4096
            return max(current, size - size % block)
        if self.fstype == 'lvm':
            return max(current, geometry['dev_size'])
        return current

    def grow_argv(self, device, mount_point, probe):
        if self.fstype in EXT_TYPES:
            if not mount_point:
                problem = self.geometry.needs_check()
                if problem:
                    self.fail('resize2fs grows an unmounted ext file system only after a full check, and the one on %s '
                              'needs one: %s. Run e2fsck -f %s first, then run this task again.'
                              % (self.path, problem, self.path))
            return resize_ext_argv(self.tools('resize2fs'), device)
        if self.fstype == 'xfs':
            return xfs_grow_argv(self.tools('xfs_growfs'), mount_point)
        if self.fstype == 'btrfs':
            return btrfs_grow_argv(self.tools('btrfs'), self.geometry[0], mount_point)
        if self.fstype == 'swap':
            # mkswap again over the whole device, with the same UUID and label.
            return mkfs_argv(self.tools('mkswap'), self.spec, self.path, label=probe.label, uuid=probe.uuid)
        if self.fstype == 'f2fs':
            return f2fs_grow_argv(self.tools('resize.f2fs'), device)
        return pvresize_argv(self.tools('pvresize'), device)

    def set_fs_size(self, size, after=False):
        self.result['fs_size'] = size
        if not after:
            self.diff['before']['size'] = size
        self.diff['after']['size'] = size

    # -- state: absent ------------------------------------------------------------

    def wipe(self, probe):
        signatures = self.tools.signatures(self.path)
        self.diff['before']['signatures'] = [entry['type'] for entry in signatures]
        self.diff['after'] = {'fstype': None, 'label': None, 'uuid': None, 'signatures': []}
        if not signatures:
            return
        self.refuse_in_use('wipe')
        partition_table = any(entry.get('usage') == 'partition-table' for entry in signatures)
        self.run_commands([wipe_argv(self.tools('wipefs'), self.path, partition_table=partition_table)],
                          {'fstype': None, 'label': None, 'uuid': None})
        if not self.module.check_mode:
            left = self.tools.signatures(self.path)
            if left:
                self.fail('wipefs ran but %s still carries signatures: %s.' % (self.path, describe_signatures(left)))

    # -- shared -------------------------------------------------------------------

    def refuse_in_use(self, action):
        try:
            if self.kind == BLOCK_DEVICE:
                reasons = self.tools.block_device_users(self.path)
            else:
                reasons = self.tools.file_users(self.path)
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
        probe = self.tools.probe(self.path)
        self.report_probe(probe)
        if self.params['state'] == 'present':
            self.check_outcome(probe, predicted)
        self.diff['after'].update(self.facts_of(probe))
        if 'size' in self.diff['after']:
            self.diff['before'].setdefault('size', None)
            self.fs_size_after(probe)

    def fs_size_after(self, probe):
        before = self.diff['before'].get('size')
        self.fs_size(probe)
        self.diff['before']['size'] = before

    def check_outcome(self, probe, predicted):
        if not probe.holds_only(self.spec):
            self.fail('%s ran, but blkid now finds %s on %s instead of %s.'
                      % (os.path.basename(self.result['cmd'][0]), probe.describe(), self.path, self.wanted()))
        for key, found in (('label', probe.label), ('uuid', self.current_uuid(probe))):
            if predicted[key] is not None and found != predicted[key]:
                self.fail('%s ran, but the %s of the %s on %s is %r, not %r.'
                          % (os.path.basename(self.result['cmd'][0]), key, self.spec.what, self.path, found,
                             predicted[key]))

    def fstype_of(self, probe):
        """The type found, by the name fstype gives it (ext4dev for an ext4 when asked for, lvm), else blkid's."""
        fstype = probe.type if not probe.ambivalent else None
        if self.spec is not None and fstype in self.spec.blkid_types:
            return self.fstype
        if fstype == 'LVM2_member':
            return 'lvm'
        return fstype

    def report_probe(self, probe):
        self.result.update({'fstype': self.fstype_of(probe), 'label': probe.label, 'uuid': probe.uuid})

    def facts_of(self, probe):
        facts = {'fstype': self.fstype_of(probe) if probe.type else None, 'label': probe.label, 'uuid': probe.uuid}
        if probe.pttype:
            facts['partition_table'] = probe.pttype
        return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dev=dict(type='path', required=True, aliases=['path', 'device']),
            fstype=dict(type='str', choices=list(FSTYPES), aliases=['type']),
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
    Mkfs(module).run()


if __name__ == '__main__':
    main()
