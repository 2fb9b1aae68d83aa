# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every option that names an image format or a cache mode takes its choices from the one list in _qemu_img."""

from __future__ import annotations

import pytest
import yaml
from ansible.module_utils import basic

from ansible_collections.hypervisor.images.plugins.doc_fragments.convert import ModuleDocFragment as ConvertDocs
from ansible_collections.hypervisor.images.plugins.doc_fragments.qemu_img import ModuleDocFragment as QemuImgDocs
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import CACHE_MODES, FORMATS
from ansible_collections.hypervisor.images.plugins.modules import cow_image, image_convert, image_fetch, qemu_image


class Captured(Exception):
    pass


def argument_spec(module, monkeypatch):
    def capture(self, argument_spec, **kwargs):
        raise Captured(argument_spec)

    monkeypatch.setattr(basic.AnsibleModule, '__init__', capture)
    with pytest.raises(Captured) as excinfo:
        module.main()
    return excinfo.value.args[0]


@pytest.mark.parametrize('module, option', [
    (qemu_image, 'format'), (cow_image, 'backing_format'), (image_convert, 'src_format'),
    (image_convert, 'dest_format'), (image_fetch, 'format'), (image_fetch, 'allowed_formats'),
])
def test_format_options_take_the_one_list(module, option, monkeypatch):
    assert argument_spec(module, monkeypatch)[option]['choices'] == list(FORMATS)


@pytest.mark.parametrize('module', [image_convert, image_fetch])
def test_cache_modes_take_the_one_list(module, monkeypatch):
    assert argument_spec(module, monkeypatch)['cache_mode']['choices'] == ['auto'] + list(CACHE_MODES)


def test_image_fetch_docs_render_the_same_lists():
    options = yaml.safe_load(image_fetch.DOCUMENTATION)['options']
    assert options['format']['choices'] == options['allowed_formats']['choices'] == list(FORMATS)
    assert options['cache_mode']['choices'] == ['auto'] + list(CACHE_MODES)


def test_doc_fragments_render_the_same_lists():
    convert = yaml.safe_load(ConvertDocs.DOCUMENTATION)['options']
    assert convert['dest_format']['choices'] == list(FORMATS)
    assert convert['cache_mode']['choices'] == ['auto'] + list(CACHE_MODES)
    for section, option in (('FORMAT', 'format'), ('BACKING_FORMAT', 'backing_format'), ('SRC_FORMAT', 'src_format')):
        assert yaml.safe_load(getattr(QemuImgDocs, section))['options'][option]['choices'] == list(FORMATS)
