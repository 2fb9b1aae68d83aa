# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures that run modules in-process with a fake qemu-img."""

from __future__ import annotations

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import QemuImg
from ansible_collections.hypervisor.images.tests.unit.plugins.modules.utils import (
    QEMU,
    FakeQemuImg,
    ModuleExit,
    exit_json,
    fail_json,
)


@pytest.fixture
def fake_qemu(monkeypatch):
    fake = FakeQemuImg()

    def factory(binary=None, runner=None, **kwargs):
        # The modules let QemuImg find qemu-img; anything passed here would become argv[0].
        assert binary is None and runner is None, 'QemuImg(%r, %r): modules pass no binary or runner' % (binary, runner)
        return QemuImg(binary=QEMU, runner=fake)

    fake.factory = factory
    return fake


@pytest.fixture
def run_module(monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)

    def run(main, args, check_mode=False, diff=False):
        args = dict(args)
        if check_mode:
            args['_ansible_check_mode'] = True
        if diff:
            args['_ansible_diff'] = True
        with patch_module_args(args):
            with pytest.raises(ModuleExit) as excinfo:
                main()
        return excinfo.value

    return run
