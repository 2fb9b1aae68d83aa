# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Options, notes and return values shared by image_convert and image_snapshot_extract. The choices of
    # dest_format and cache_mode are _qemu_img.FORMATS and CACHE_MODES, which a unit test holds them to.
    DOCUMENTATION = r'''
options:
  dest:
    description:
      - Path of the image to write.
      - It is written under a temporary name in the same directory, synced, and renamed into place, so it appears
        complete or not at all; an existing O(dest) stays as it was if anything fails.
      - A directory or a block device is refused.
    type: path
    required: true
  dest_format:
    description:
      - Format of the image to write.
    type: str
    required: true
    choices: [raw, qcow2, qed, vdi, vhdx, vmdk, vpc]
  compress:
    description:
      - Compress the written image (C(qemu-img convert -c)). Only qcow2 output can be compressed; asking for it with
        another format fails the task before anything is written.
    type: bool
    default: false
  cache_mode:
    description:
      - Cache mode qemu-img uses to write O(dest) (C(-t)).
      - V(auto) probes the destination directory the way Nova does (a file opened with O_DIRECT, one page written
        from an aligned buffer, then removed) and uses V(none) when O_DIRECT works, else V(writeback). The probe runs in
        check mode too (its file is always removed), so check mode reports the cache mode and command line of the real
        run.
      - V(unsafe) (qemu-img's own default) does not flush; it is only used when asked for. The result is synced by
        this module before it is renamed into place in every mode.
    type: str
    choices: [auto, none, writeback, unsafe]
    default: auto
  options:
    description:
      - Format options for the written image (C(qemu-img convert -o)), such as C(cluster_size) or C(compat) for
        qcow2, or C(preallocation). Booleans are written as C(on) and C(off).
      - C(size), C(backing_file) and C(backing_fmt) come from the source and are refused here.
    type: dict
    default: {}
  parallel:
    description:
      - Number of parallel coroutines qemu-img uses (C(-m)), 1 to 16. qemu-img's default is 8.
    type: int
  out_of_order:
    description:
      - Allow qemu-img to write clusters out of order (C(-W)). Faster on some storage; only safe for a new file,
        which O(dest) always is here.
    type: bool
    default: false
  check_free_space:
    description:
      - Before writing, compare the bytes the result needs (C(qemu-img measure)) with the free space of the file system
        holding O(dest), and fail with both figures when it does not fit.
      - Set to V(false) on file systems whose free space says little about what a write needs (compressing or
        deduplicating file systems, thin-provisioned network storage). If a write then runs out of space, the
        temporary file is removed and O(dest) stays as it was.
    type: bool
    default: true
  allow_backing_file:
    description:
      - Convert a source that has a backing file.
      - qemu-img then reads the whole chain and writes a flattened, self-contained image. A hostile header can name
        any file on the host as its backing file, so sources with one are refused unless this is set.
      - A source with an external data file is refused whatever this says.
      - The backing chain is recorded with the result, so a later run notices a change in any file of the chain and
        converts again.
    type: bool
    default: false
  force:
    description:
      - Write O(dest) even when it already holds what the source would give, or exists without a record of how it was
        made. The old O(dest) is replaced atomically.
    type: bool
    default: false
notes:
  - B(Idempotence without reading data.) When this module writes O(dest), it records on it what it was made from (the
    source's path and identity (size, modification time, inode, device), the settings that shape the result, and
    O(dest)'s own identity as written). The record is the extended attribute C(user.hypervisor_images.source), or a
    hidden C(.NAME.source.json) file beside O(dest) where the file system refuses user extended attributes. A re-run
    compares this record with the source and settings and does nothing when they match; a changed source or setting
    means a new conversion.
  - B(A destination this module did not write) (no record, or modified since it was written) is never trusted blindly
    and never silently replaced. See O(force) and the module's description for what happens.
  - O(owner), O(group), O(mode) and the SELinux options are applied before the result appears under its final name.
    Without O(mode) a new file gets the mode the umask gives.
  - Tasks that write the same O(dest) at once wait for each other on a lock file beside it; temporary files that a
    killed run left behind are removed by the next run.
'''
