# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions and command lines of image_snapshot, with a fake qemu-img."""

from __future__ import annotations

import json
import subprocess

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _qemu_img, _task
from ansible_collections.hypervisor.images.plugins.modules import image_snapshot
from ansible_collections.hypervisor.images.tests.unit.plugins.modules.utils import QEMU

MiB = 1024 * 1024


@pytest.fixture
def module(monkeypatch, fake_qemu, run_module, tmp_path):
    monkeypatch.setattr(_task, 'QemuImg', fake_qemu.factory)

    def run(args, **kwargs):
        return run_module(image_snapshot.main, dict({'path': run.path}, **args), **kwargs)

    run.fake = fake_qemu
    run.path = str(tmp_path / 'disk.qcow2')
    fake_qemu.make(run.path, 'qcow2', 64 * MiB)
    return run


def spec(path):
    return 'json:' + json.dumps({'backing': None, 'driver': 'qcow2', 'file': {'driver': 'file', 'filename': path}},
                                sort_keys=True)


def test_four_steps_present(module):
    results = [module({'name': 'daily'}, check_mode=True, diff=True), module({'name': 'daily'}, diff=True),
               module({'name': 'daily'}), module({'name': 'daily'}, check_mode=True)]
    assert [out.result['changed'] for out in results] == [True, True, False, False]
    assert module.fake.changing_calls() == [[QEMU, 'snapshot', '-q', '-c', 'daily', spec(module.path)]]
    check, real = results[0].result, results[1].result
    assert check['diff'] == real['diff'] == {'before': {'path': module.path, 'snapshots': []},
                                             'after': {'path': module.path, 'snapshots': ['daily']}}
    assert check['cmd'] == real['cmd']
    assert check['snapshots'] == [{'name': 'daily', 'id': None, 'date': None, 'vm_state_size': 0}]
    assert real['snapshots'] == [{'name': 'daily', 'id': '1', 'date': '2026-11-21T23:42:20Z', 'vm_state_size': 0}]


def test_four_steps_absent_deletes_every_snapshot_of_the_name(module):
    module.fake.snapshots[module.fake.key(module.path)] = [
        {'id': str(number), 'name': name, 'vm-state-size': 0, 'date-sec': 1795304539, 'date-nsec': 0}
        for number, name in ((1, 'daily'), (2, 'weekly'), (3, 'daily'))]
    args = {'name': 'daily', 'state': 'absent'}
    results = [module(args, check_mode=True, diff=True), module(args), module(args), module(args, check_mode=True)]
    assert [out.result['changed'] for out in results] == [True, True, False, False]
    assert module.fake.changing_calls() == [[QEMU, 'snapshot', '-q', '-d', 'daily', spec(module.path)]] * 2
    assert results[0].result['diff']['after']['snapshots'] == ['weekly']
    assert [snap['name'] for snap in results[1].result['snapshots']] == ['weekly']


@pytest.mark.parametrize('name, words', [
    ('', 'empty'), ('-x', 'read as an option'), ('2', 'digits only'), ('a\nb', 'control characters'),
])
def test_bad_names_are_refused_before_anything_runs(module, name, words):
    out = module({'name': name})
    assert out.failed and words in out.result['msg'] and module.fake.calls == []


def test_a_missing_image_is_refused(module, tmp_path):
    out = module({'path': str(tmp_path / 'nope.qcow2'), 'name': 'daily'})
    assert out.failed and 'does not exist' in out.result['msg']


def test_a_raw_image_is_refused(module, tmp_path):
    raw = str(tmp_path / 'disk.raw')
    module.fake.make(raw, 'raw', MiB)
    out = module({'path': raw, 'name': 'daily'})
    assert out.failed and 'is a raw image, not qcow2' in out.result['msg'] and module.fake.changing_calls() == []


def test_an_image_in_use_fails_and_says_so(module):
    module.fake.fail_on['snapshot'] = (1, 'qemu-img: Could not open \'json:{}\': Failed to get "write" lock\n'
                                          'Is another process using the image [disk.qcow2]?')
    out = module({'name': 'daily'})
    assert out.failed and 'is in use' in out.result['msg'] and module.path in out.result['msg']
    assert out.result['rc'] == 1 and 'write' in out.result['stderr']


def test_check_mode_refuses_an_image_in_use_too(module, monkeypatch):
    monkeypatch.setattr(image_snapshot, 'refuse_in_use', _qemu_img.refuse_in_use)
    monkeypatch.setattr(_qemu_img, 'qemu_lock_held', lambda path: True)
    out = module({'name': 'daily'}, check_mode=True)
    assert out.failed and 'is in use' in out.result['msg'] and module.fake.changing_calls() == []


def test_a_qcow2_the_safety_checks_refuse_fails_clearly(module, tmp_path):
    path = str(tmp_path / 'data-file.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-o', 'data_file=%s' % (tmp_path / 'host.data'),
                    path, '1M'], check=True, cwd=str(tmp_path))
    out = module({'path': path, 'name': 'daily'})
    assert out.failed and 'is refused' in out.result['msg'] and 'data file' in out.result['msg']
    assert out.result['verdict']['reasons'][0]['code'] == 'data_file'
    assert module.fake.calls == []
