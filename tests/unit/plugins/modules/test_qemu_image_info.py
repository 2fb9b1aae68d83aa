# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _inspect
from ansible_collections.hypervisor.images.plugins.modules import qemu_image_info

from ansible_collections.hypervisor.images.tests.unit.plugins.modules.utils import QEMU


@pytest.fixture
def module(monkeypatch, fake_qemu, run_module):
    monkeypatch.setattr(qemu_image_info, 'QemuImg', fake_qemu.factory)

    def run(args, **kwargs):
        return run_module(qemu_image_info.main, args, **kwargs)

    run.fake = fake_qemu
    return run


def test_missing_path_is_not_an_error(module, tmp_path):
    out = module({'path': str(tmp_path / 'nope')})
    assert not out.failed
    assert out.result == {'changed': False, 'exists': False, 'path': str(tmp_path / 'nope')}
    assert module.fake.calls == []


def test_format_is_detected_and_passed_explicitly(module, tmp_path):
    path = str(tmp_path / 'a')
    module.fake.make(path, 'qcow2', 1024)
    out = module({'path': path})
    assert module.fake.calls == [[QEMU, 'info', '--output=json', '-U', '-f', 'qcow2', '--', path]]
    assert out.result['exists'] is True and out.result['changed'] is False
    assert out.result['format'] == 'qcow2' and out.result['virtual_size'] == 1024
    assert out.result['cluster_size'] == 65536


def test_declared_format_is_never_probed(module, tmp_path):
    path = str(tmp_path / 'a')
    module.fake.make(path, 'raw', 1024)
    module({'path': path, 'format': 'raw', 'backing_chain': True})
    assert module.fake.calls == [[QEMU, 'info', '--output=json', '-U', '--backing-chain', '-f', 'raw', '--', path]]


def test_declared_raw_with_qcow2_header_fails(module, tmp_path):
    path = str(tmp_path / 'a')
    module.fake.make(path, 'qcow2', 1024)
    out = module({'path': path, 'format': 'raw'})
    assert out.failed and 'declared as raw but its header says qcow2' in out.result['msg']
    assert module.fake.calls == []


def test_declared_qcow2_on_raw_data_is_refused_before_qemu_img_runs(module, tmp_path):
    path = str(tmp_path / 'a')
    module.fake.make(path, 'raw', 1024)
    out = module({'path': path, 'format': 'qcow2'})
    assert out.failed and 'declared as qcow2 but no qcow2 header was found' in out.result['msg']
    assert out.result['inspection']['verdict']['reasons'][0]['code'] == 'format_mismatch'
    assert module.fake.calls == []


def test_directory_fails(module, tmp_path):
    out = module({'path': str(tmp_path)})
    assert out.failed and 'is a directory' in out.result['msg']


def test_check_mode_reads_the_same(module, tmp_path):
    path = str(tmp_path / 'a')
    module.fake.make(path, 'qcow2', 1024)
    out = module({'path': path}, check_mode=True)
    assert out.result['changed'] is False and out.result['format'] == 'qcow2'


def test_check_reads_only_and_reports_what_it_found(module, tmp_path):
    path = str(tmp_path / 'a')
    module.fake.make(path, 'qcow2', 1024)
    module.fake.leaks[module.fake.key(path)] = 2
    out = module({'path': path, 'check': True})
    assert not out.failed and out.result['changed'] is False
    check = module.fake.calls[-1]
    assert check[:4] == [QEMU, 'check', '--output=json', '-U'] and check[-1].startswith('json:')
    assert '"backing": null' in check[-1] and module.fake.limits[-1] is not None
    assert out.result['check']['leaks'] == 2 and out.result['check']['corruptions'] == 0
    assert module.fake.leaks[module.fake.key(path)] == 2


def test_check_of_a_raw_image_is_null(module, tmp_path):
    path = str(tmp_path / 'a')
    module.fake.make(path, 'raw', 1024)
    out = module({'path': path, 'check': True})
    assert out.result['check'] is None and [call[1] for call in module.fake.calls] == ['info']


def test_qemu_img_that_cannot_be_executed_is_named_with_its_package(run_module, monkeypatch, tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    (bin_dir / 'qemu-img').write_text('not a program')
    monkeypatch.setenv('PATH', str(bin_dir))
    path = str(tmp_path / 'a.raw')
    with open(path, 'wb') as handle:
        handle.write(b'\0' * 512)
    out = run_module(qemu_image_info.main, {'path': path})
    assert out.failed
    assert 'qemu-img cannot be executed' in out.result['msg'] and 'qemu-utils' in out.result['msg']
    assert str(bin_dir / 'qemu-img') in out.result['msg'] and out.result['path'] == path


def test_a_file_that_cannot_be_read_fails_with_a_message(module, monkeypatch, tmp_path):
    path = str(tmp_path / 'a')
    module.fake.make(path, 'qcow2', 1024)

    real_open = os.open

    def refuse(name, *args, **kwargs):
        if name == path:
            raise PermissionError(13, 'Permission denied', name)
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(_inspect.os, 'open', refuse)
    out = module({'path': path})
    assert out.failed and out.result['msg'].startswith('Cannot read %s to find its format: Permission denied' % path)
    assert module.fake.calls == []


def test_a_path_that_cannot_be_looked_at_fails_with_a_message(module, monkeypatch, tmp_path):
    path = str(tmp_path / 'a')

    def refuse(name):
        raise PermissionError(13, 'Permission denied', name)

    monkeypatch.setattr(qemu_image_info, 'path_kind', refuse)
    out = module({'path': path})
    assert out.failed and out.result['msg'].startswith('Cannot access %s: Permission denied' % path)
