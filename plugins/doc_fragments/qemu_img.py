# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # For modules that run qemu-img on the managed host.
    DOCUMENTATION = r'''
options: {}
requirements:
  - qemu-img (Debian and Ubuntu package C(qemu-utils), Fedora and RHEL package C(qemu-img)) on the managed host.
'''

    # The choices of the options that name an image format (the rest of each option is in its module):
    # _qemu_img.FORMATS, which a unit test holds these to (sanity wants literal strings here).
    FORMAT = r'''
options:
  format:
    choices: [raw, qcow2, qed, vdi, vhdx, vmdk, vpc]
'''

    BACKING_FORMAT = r'''
options:
  backing_format:
    choices: [raw, qcow2, qed, vdi, vhdx, vmdk, vpc]
'''

    SRC_FORMAT = r'''
options:
  src_format:
    choices: [raw, qcow2, qed, vdi, vhdx, vmdk, vpc]
'''
