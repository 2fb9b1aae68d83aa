# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks and command lines of cow_image, with a fake qemu-img."""

from __future__ import annotations

import os

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _task
from ansible_collections.hypervisor.images.plugins.modules import cow_image
from ansible_collections.hypervisor.images.tests.unit.plugins.modules.utils import QEMU

MiB = 1024 * 1024


@pytest.fixture
def module(monkeypatch, fake_qemu, run_module, tmp_path):
    monkeypatch.setattr(_task, 'QemuImg', fake_qemu.factory)

    def run(args, **kwargs):
        return run_module(cow_image.main, args, **kwargs)

    run.fake = fake_qemu
    (tmp_path / '_base').mkdir()
    run.raw_base = str(tmp_path / '_base' / 'base.raw')
    run.qcow2_base = str(tmp_path / '_base' / 'base.qcow2')
    fake_qemu.make(run.raw_base, 'raw', 16 * MiB)
    fake_qemu.make(run.qcow2_base, 'qcow2', 16 * MiB)
    run.path = str(tmp_path / 'disk')
    return run


def creates(fake):
    return [call for call in fake.calls if call[1] == 'create']


def test_create_argv_always_has_the_backing_format(module):
    out = module({'path': module.path, 'backing_file': module.raw_base, 'size': '32M'})
    assert not out.failed, out.result
    (create,) = creates(module.fake)
    assert create[:10] == [QEMU, 'create', '-q', '-f', 'qcow2', '-b', module.raw_base, '-F', 'raw', '--']
    assert create[-1] == str(32 * MiB)
    assert out.result['backing_format'] == 'raw'


def test_cluster_size_follows_a_qcow2_backing_file(module):
    module({'path': module.path, 'backing_file': module.qcow2_base})
    (create,) = creates(module.fake)
    assert create[5:12] == ['-b', module.qcow2_base, '-F', 'qcow2', '-o', 'cluster_size=65536', '--']
    assert create[-1].endswith('.part')  # no size: qemu takes the backing file's


def test_explicit_cluster_size(module):
    module({'path': module.path, 'backing_file': module.raw_base, 'cluster_size': '2M'})
    assert '-o' in creates(module.fake)[0]
    assert 'cluster_size=2097152' in creates(module.fake)[0]


def test_relative_backing_is_resolved_against_the_overlay_and_kept(module):
    out = module({'path': module.path, 'backing_file': '_base/base.raw'})
    assert not out.failed, out.result
    assert creates(module.fake)[0][6] == '_base/base.raw'


@pytest.mark.parametrize('args, fragment', [
    ({'cluster_size': '96K'}, 'not a power of two'),
    ({'cluster_size': '256'}, 'too small'),
    ({'size': '1M'}, 'smaller than the backing file'),
    ({'backing_file': None}, 'backing_file is required'),
    ({'backing_format': 'qcow2'}, 'declared as qcow2 but no qcow2 header was found'),
])
def test_bad_input_writes_nothing(module, args, fragment):
    params = {'path': module.path, 'backing_file': module.raw_base}
    params.update(args)
    out = module(params)
    assert out.failed and fragment in out.result['msg']
    assert creates(module.fake) == []
    assert not os.path.exists(module.path)


def test_missing_backing_file_fails_before_anything(module, tmp_path):
    out = module({'path': module.path, 'backing_file': str(tmp_path / 'gone.raw')})
    assert out.failed and 'does not exist' in out.result['msg'] and 'nothing was written' in out.result['msg']
    assert module.fake.calls == []


def test_relative_missing_backing_names_the_resolved_path(module, tmp_path):
    out = module({'path': module.path, 'backing_file': 'gone.raw'})
    assert out.failed and str(tmp_path / 'gone.raw') in out.result['msg']


def test_check_mode_predicts(module):
    out = module({'path': module.path, 'backing_file': module.raw_base}, check_mode=True, diff=True)
    assert out.result['changed'] is True
    assert out.result['virtual_size'] == 16 * MiB
    assert out.result['cmd'][-1] == module.path
    assert creates(module.fake) == []
    assert out.result['diff']['after']['backing_file'] == module.raw_base


def test_rebase_choice_no_accepts_a_yaml_boolean(module):
    out = module({'path': module.path, 'backing_file': module.raw_base, 'rebase': False})
    assert not out.failed, out.result


def test_rerun_on_the_same_backing_file_does_nothing(module):
    args = {'path': module.path, 'backing_file': module.raw_base, 'backing_format': 'raw'}
    module(args)
    module.fake.calls[:] = []
    out = module(args)
    assert out.result['changed'] is False
    assert [call[1] for call in module.fake.calls] == ['info', 'info']


def test_other_backing_file_is_refused_naming_both(module):
    module({'path': module.path, 'backing_file': module.raw_base})
    out = module({'path': module.path, 'backing_file': module.qcow2_base})
    assert out.failed
    assert module.raw_base in out.result['msg'] and module.qcow2_base in out.result['msg']
    assert [call for call in module.fake.calls if call[1] == 'rebase'] == []


@pytest.mark.parametrize('mode, flags', [('safe', []), ('unsafe', ['-u'])])
def test_rebase_argv(module, mode, flags):
    module({'path': module.path, 'backing_file': module.raw_base})
    module({'path': module.path, 'backing_file': module.qcow2_base, 'rebase': mode})
    rebase = [call for call in module.fake.calls if call[1] == 'rebase']
    assert rebase == [[QEMU, 'rebase', '-q', '-f', 'qcow2'] + flags + ['-F', 'qcow2', '-b', module.qcow2_base, '--',
                                                                       module.path]]


@pytest.mark.parametrize('backing', ['file:base.raw', 'nbd:127.0.0.1:10809', 'json:{"driver":"raw"}'])
def test_a_backing_name_qemu_would_read_as_a_protocol_is_refused(module, backing):
    out = module({'path': module.path, 'backing_file': backing})
    assert out.failed and 'as the protocol %r' % backing.split(':')[0] in out.result['msg']
    assert module.fake.calls == []
