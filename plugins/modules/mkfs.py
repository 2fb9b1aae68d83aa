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
  - A tool that is missing, or cannot be executed, fails the task with its name and the package that provides it. Tools
    are looked for in E(PATH) and in C(/sbin), C(/usr/sbin) and C(/usr/local/sbin).
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
      - V(ocfs2) is made with C(mkfs.ocfs2 -F -x), as C(community.general.filesystem) makes it. C(-F) lets it
        overwrite, since this module has already decided what may be replaced (see O(force)); C(-x) keeps it from
        asking a cluster stack (o2cb), so that it works on a host that runs none. The file system is still made for a
        cluster; add C(-M local) to O(opts) for one that a single host mounts without a cluster stack.
        C(tunefs.ocfs2) needs the cluster stack to change the label or UUID of a cluster file system.
      - Required with O(state=present); ignored with O(state=absent).
    type: str
    choices: [ext2, ext3, ext4, ext4dev, xfs, btrfs, vfat, swap, f2fs, reiserfs, ocfs2, gfs2, lvm]
    aliases: [type]
  force:
    description:
      - Allow replacing what O(dev) carries (another file system, a partition table, a LUKS header, several signatures)
        by a new file system of type O(fstype); the data on O(dev) is lost.
      - The mkfs tool of O(fstype) runs first, with its own flag for writing over what is there (C(-F) for
        C(mkfs.ext2), C(mkfs.ext3) and C(mkfs.ext4), C(-f) for C(mkfs.xfs), C(mkfs.btrfs), C(mkfs.f2fs),
        C(mkfs.reiserfs), C(mkswap) and C(pvcreate), C(-I) for C(mkfs.vfat); C(mkfs.ocfs2 -F) and C(mkfs.gfs2 -O)
        always get theirs). Only once it succeeded does C(wipefs --all --types noTYPE) (with C(--force) when a
        partition table was there) erase the signatures of other types that it left, such as the backup header of a GPT
        partition table at the end of the device, which C(mkfs.vfat), C(mkswap), C(mkfs.reiserfs) and C(mkfs.gfs2)
        leave; the signature of the new file system is never erased. No wipefs runs when everything there was of type
        O(fstype).
      - Nothing is erased before mkfs succeeded, so a mkfs that fails without writing (as C(mkfs.xfs) and C(mkfs.btrfs)
        do on a device too small for them) leaves what was there as it was.
      - A device smaller than the type needs is refused before anything runs, in check mode too. The limits, of the
        tools with their default options, are xfs 300 MiB, btrfs 109 MiB (16 MiB with C(--mixed) in O(opts)), f2fs
        52 MiB, reiserfs 32848 KiB, ocfs2 10784 KiB (6684 KiB with C(-M local)), gfs2 16 MiB, lvm 2 MiB, ext2, ext3 and
        ext4 104 KiB, vfat 50 KiB and swap 10 pages (40 KiB with 4 KiB pages). C(mkfs.f2fs), C(mkfs.ocfs2) and
        C(mke2fs) write to the device before they find it too small. O(opts) that need more can still make the tool
        fail.
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
      - A label that starts with C(-) is given to every tool as the argument of its label option or after C(--), so
        that no tool reads it as an option. V(--) is refused for xfs, since C(xfs_db) reads it as "remove the
        label".
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
  - Check mode decides everything as a real run does, and refuses a device too small for the file system as a real run
    does (see O(force) for the limits), but cannot foresee other failures of the tool itself.
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
  sample: [[/usr/sbin/mkfs.vfat, -I, -n, CONFIG, --, /srv/disk.raw], [/usr/sbin/wipefs, --all, --types, novfat, --, /srv/disk.raw]]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hypervisor.images.plugins.module_utils._tasks.mkfs import Mkfs, module_args


def main():
    module = AnsibleModule(**module_args())
    Mkfs(module).run()


if __name__ == '__main__':
    main()
