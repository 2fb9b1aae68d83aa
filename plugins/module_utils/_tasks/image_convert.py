# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The task of the image_convert module, shared with image_plan, which runs it for one entry of a plan.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.
"""

from __future__ import annotations

from ansible_collections.hypervisor.images.plugins.module_utils._convert import ConvertTask, convert_argument_spec
from ansible_collections.hypervisor.images.plugins.module_utils._identity import source_record
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import FORMATS


class ImageConvert(ConvertTask):

    def inspect_source(self):
        self.vet_source(self.params['src_format'])

    def wanted_record(self):
        return source_record(self.src, identity=self.source_identity(), src_format=self.src_format,
                             dest_format=self.dest_format, compress=self.params['compress'], options=self.options)


def module_args():
    """The keyword arguments of the module's AnsibleModule."""
    argument_spec = convert_argument_spec()
    argument_spec['src_format'] = dict(type='str', choices=list(FORMATS))
    return dict(argument_spec=argument_spec, add_file_common_args=True, supports_check_mode=True)
