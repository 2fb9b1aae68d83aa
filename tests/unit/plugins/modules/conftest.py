# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures that run modules in-process with a fake qemu-img."""

from __future__ import annotations

import contextlib
import json

import pytest
from ansible.module_utils import basic

from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import QemuImg
from ansible_collections.hypervisor.images.tests.unit.plugins.modules.utils import (
    QEMU,
    FakeQemuImg,
    ModuleExit,
    exit_json,
    fail_json,
)

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19: AnsibleModule reads its arguments from basic._ANSIBLE_ARGS
    @contextlib.contextmanager
    def patch_module_args(args):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode('utf-8')
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved


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
