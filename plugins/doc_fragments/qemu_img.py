# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import FORMATS


def format_choices(option):
    """The ``choices`` of an option that names an image format: the one list the modules use."""
    return 'options:\n  %s:\n    choices: [%s]\n' % (option, ', '.join(FORMATS))


class ModuleDocFragment:

    # For modules that run qemu-img on the managed host.
    DOCUMENTATION = r'''
options: {}
requirements:
  - qemu-img (Debian and Ubuntu package C(qemu-utils), Fedora and RHEL package C(qemu-img)) on the managed host.
'''

    # The choices of the options that name an image format (the rest of each option is in its module).
    FORMAT = format_choices('format')
    BACKING_FORMAT = format_choices('backing_format')
    SRC_FORMAT = format_choices('src_format')
