# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # Attributes every module of this collection carries.
    DOCUMENTATION = r'''
options: {}
attributes:
  check_mode:
    description: Can run in check mode and predict whether it would change something, without touching the host.
  diff_mode:
    description: Returns a before and after view of what changed, or would change in check mode, in diff mode.
  platform:
    description: The target systems this module runs on.
    support: full
    platforms: posix
'''

    # For modules that only read.
    INFO_MODULE = r'''
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This module never changes anything, so it runs the same way in check mode.
  diff_mode:
    support: N/A
    details:
      - This module never changes anything.
'''

    ACTIONGROUP_IMAGES = r'''
options: {}
attributes:
  action_group:
    description: The module belongs to the C(hypervisor.images.images) action group; set its defaults with
      C(module_defaults) and C(group/hypervisor.images.images).
    support: full
    membership:
      - hypervisor.images.images
'''
