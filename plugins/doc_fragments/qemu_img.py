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
