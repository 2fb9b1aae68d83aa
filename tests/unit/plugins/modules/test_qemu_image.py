# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decision logic of qemu_image, with qemu-img replaced by a fake that pins argv."""

from __future__ import annotations

import json
import os
import re

import pytest
from ansible.module_utils import basic

from ansible_collections.hypervisor.images.plugins.module_utils import _task
from ansible_collections.hypervisor.images.plugins.modules import qemu_image

from ansible_collections.hypervisor.images.tests.unit.plugins.modules.utils import QEMU

GiB = 1024 ** 3


@pytest.fixture
def module(monkeypatch, fake_qemu, run_module):
    monkeypatch.setattr(_task, 'QemuImg', fake_qemu.factory)

    def run(args, **kwargs):
        return run_module(qemu_image.main, args, **kwargs)

    run.fake = fake_qemu
    return run


TEMP = re.compile(r'^/.*/\.disk\.qcow2\.[a-z0-9_]{8}\.part$')


def test_create_writes_through_a_temp_file(module, tmp_path):
    path = str(tmp_path / 'disk.qcow2')
    out = module({'path': path, 'size': '10G'})
    assert not out.failed and out.result['changed'] is True
    (create,) = module.fake.changing_calls()
    assert create[:6] == [QEMU, 'create', '-q', '-f', 'qcow2', '--']
    assert TEMP.match(create[6]) and os.path.dirname(create[6]) == str(tmp_path)
    assert create[7] == str(10 * GiB)
    assert out.result['cmd'] == create
    assert out.result['virtual_size'] == 10 * GiB and out.result['format'] == 'qcow2'
    assert os.listdir(str(tmp_path)) == ['disk.qcow2']


def test_size_is_rounded_up_to_a_sector(module, tmp_path):
    out = module({'path': str(tmp_path / 'disk.qcow2'), 'size': '1000'})
    assert module.fake.changing_calls()[0][-1] == '1024'
    assert out.result['virtual_size'] == 1024


def test_create_with_options_and_preallocation(module, tmp_path):
    module({'path': str(tmp_path / 'disk.qcow2'), 'size': '1G', 'preallocation': 'metadata',
            'options': {'cluster_size': '2M', 'lazy_refcounts': True}})
    create = module.fake.changing_calls()[0]
    assert create[5:7] == ['-o', 'cluster_size=2M,lazy_refcounts=on,preallocation=metadata']


def test_same_size_runs_nothing_but_info(module, tmp_path):
    path = str(tmp_path / 'disk.qcow2')
    module.fake.make(path, 'qcow2', 10 * GiB)
    out = module({'path': path, 'size': '10G'})
    assert out.result['changed'] is False
    assert module.fake.calls == [[QEMU, 'info', '--output=json', '-U', '-f', 'qcow2', '--', path]]
    assert 'cmd' not in out.result


def test_existing_image_without_size_is_left_alone(module, tmp_path):
    path = str(tmp_path / 'disk.qcow2')
    module.fake.make(path, 'qcow2', GiB)
    out = module({'path': path})
    assert out.result['changed'] is False and out.result['virtual_size'] == GiB


def test_larger_size_grows(module, tmp_path):
    path = str(tmp_path / 'disk.qcow2')
    module.fake.make(path, 'qcow2', GiB)
    out = module({'path': path, 'size': '2G', 'preallocation': 'falloc'}, diff=True)
    assert module.fake.changing_calls() == [
        [QEMU, 'resize', '-q', '-f', 'qcow2', '--preallocation=falloc', '--', path, str(2 * GiB)]]
    assert out.result['changed'] is True and out.result['virtual_size'] == 2 * GiB
    assert out.result['diff']['before']['virtual_size'] == GiB
    assert out.result['diff']['after']['virtual_size'] == 2 * GiB


def test_smaller_size_is_refused_without_allow_shrink(module, tmp_path):
    path = str(tmp_path / 'disk.qcow2')
    module.fake.make(path, 'qcow2', 2 * GiB)
    out = module({'path': path, 'size': '1G'})
    assert out.failed
    assert 'allow_shrink: true' in out.result['msg']
    assert path in out.result['msg'] and '2.0 GiB (2147483648 bytes)' in out.result['msg']
    assert module.fake.changing_calls() == []


def test_allow_shrink_shrinks(module, tmp_path):
    path = str(tmp_path / 'disk.qcow2')
    module.fake.make(path, 'qcow2', 2 * GiB)
    out = module({'path': path, 'size': '1G', 'allow_shrink': True, 'preallocation': 'full'})
    assert module.fake.changing_calls() == [[QEMU, 'resize', '-q', '-f', 'qcow2', '--shrink', '--', path, str(GiB)]]
    assert out.result['changed'] is True


def test_other_format_points_to_image_convert(module, tmp_path):
    path = str(tmp_path / 'disk.img')
    module.fake.make(path, 'raw', GiB)
    out = module({'path': path, 'size': '1G', 'format': 'qcow2'})
    assert out.failed
    assert 'not a qcow2 image (its header says raw)' in out.result['msg']
    assert 'hypervisor.images.image_convert' in out.result['msg']


def test_raw_declared_but_qcow2_on_disk(module, tmp_path):
    path = str(tmp_path / 'disk.img')
    module.fake.make(path, 'qcow2', GiB)
    out = module({'path': path, 'size': '1G', 'format': 'raw'})
    assert out.failed and 'its header says qcow2' in out.result['msg']
    assert module.fake.calls == []


def test_directory_is_refused(module, tmp_path):
    out = module({'path': str(tmp_path), 'size': '1G'})
    assert out.failed and 'is a directory, not an image file' in out.result['msg']


def test_block_device_is_refused(module, tmp_path, monkeypatch):
    monkeypatch.setattr(_task, 'path_kind', lambda path: 'block device')
    out = module({'path': '/dev/vg0/lv', 'size': '1G'})
    assert out.failed and 'is a block device' in out.result['msg']


def test_missing_without_size(module, tmp_path):
    out = module({'path': str(tmp_path / 'disk.qcow2')})
    assert out.failed and 'no size was given' in out.result['msg']


def test_missing_directory(module, tmp_path):
    out = module({'path': str(tmp_path / 'no' / 'disk.qcow2'), 'size': '1G'})
    assert out.failed and 'directory %s does not exist' % (tmp_path / 'no') in out.result['msg']


@pytest.mark.parametrize('size, fragment', [
    ('10X', "cannot read '10X' as a size"),
    ('-1G', "cannot read '-1G'"),
    ('1e3', "cannot read '1e3'"),
    ('0', 'size: 0 bytes is too small'),
])
def test_bad_sizes(module, tmp_path, size, fragment):
    out = module({'path': str(tmp_path / 'disk.qcow2'), 'size': size})
    assert out.failed and fragment in out.result['msg']
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize('options, fragment', [
    ({'size': '1G'}, 'options: size cannot be given here'),
    ({'backing_file': '/x'}, 'cow_image'),
    ({'a,b': 1}, 'Invalid qemu-img option name'),
])
def test_bad_options(module, tmp_path, options, fragment):
    out = module({'path': str(tmp_path / 'disk.qcow2'), 'size': '1G', 'options': options})
    assert out.failed and fragment in out.result['msg']


def test_preallocation_conflict(module, tmp_path):
    out = module({'path': str(tmp_path / 'disk.qcow2'), 'size': '1G', 'preallocation': 'full',
                  'options': {'preallocation': 'off'}})
    assert out.failed and 'disagree' in out.result['msg']


def test_option_difference_on_existing_image_warns(module, tmp_path, monkeypatch):
    warnings = []
    monkeypatch.setattr(qemu_image.AnsibleModule, 'warn', lambda self, msg: warnings.append(msg))
    path = str(tmp_path / 'disk.qcow2')
    module.fake.make(path, 'qcow2', GiB)
    out = module({'path': path, 'size': '1G', 'options': {'cluster_size': '2M', 'compat': 'v3'}})
    assert out.result['changed'] is False
    assert any('cluster_size=2M (the image has 65536)' in w for w in warnings)
    assert not any('compat' in w for w in warnings)


def test_check_mode_create_touches_nothing(module, tmp_path):
    path = str(tmp_path / 'disk.qcow2')
    out = module({'path': path, 'size': '1G'}, check_mode=True, diff=True)
    assert out.result['changed'] is True
    assert module.fake.calls == []
    assert os.listdir(str(tmp_path)) == []
    assert out.result['cmd'] == [QEMU, 'create', '-q', '-f', 'qcow2', '--', path, str(GiB)]
    assert out.result['diff'] == {'before': {'path': path, 'state': 'absent'},
                                  'after': {'path': path, 'state': 'present', 'format': 'qcow2',
                                            'virtual_size': GiB}}


def test_check_mode_grow_runs_only_info(module, tmp_path):
    path = str(tmp_path / 'disk.qcow2')
    module.fake.make(path, 'qcow2', GiB)
    out = module({'path': path, 'size': '2G'}, check_mode=True)
    assert out.result['changed'] is True and out.result['virtual_size'] == 2 * GiB
    assert module.fake.changing_calls() == []
    assert out.result['cmd'][1] == 'resize'


def test_absent_removes_and_reports(module, tmp_path):
    path = str(tmp_path / 'disk.qcow2')
    module.fake.make(path, 'qcow2', GiB)
    out = module({'path': path, 'state': 'absent'}, diff=True)
    assert out.result['changed'] is True and not os.path.exists(path)
    assert out.result['diff']['before'] == {'path': path, 'state': 'present', 'format': 'qcow2',
                                            'virtual_size': GiB}
    assert out.result['diff']['after'] == {'path': path, 'state': 'absent'}
    assert os.listdir(str(tmp_path)) == []


def test_absent_missing_is_ok(module, tmp_path):
    out = module({'path': str(tmp_path / 'nothing'), 'state': 'absent'})
    assert out.result['changed'] is False


def test_absent_check_mode_keeps_file(module, tmp_path):
    path = str(tmp_path / 'disk.qcow2')
    module.fake.make(path, 'qcow2', GiB)
    out = module({'path': path, 'state': 'absent'}, check_mode=True)
    assert out.result['changed'] is True and os.path.exists(path)


def test_absent_directory_is_refused(module, tmp_path):
    out = module({'path': str(tmp_path), 'state': 'absent'})
    assert out.failed and 'is a directory' in out.result['msg']
    assert os.path.isdir(str(tmp_path))


def test_qemu_failure_carries_cmd_rc_stderr_and_leaves_no_temp(module, tmp_path):
    module.fake.fail_next = (1, 'qemu-img: /x: error while writing: No space left on device')
    out = module({'path': str(tmp_path / 'disk.qcow2'), 'size': '1G'})
    assert out.failed and 'ran out of space' in out.result['msg']
    assert out.result['rc'] == 1 and out.result['cmd'][1] == 'create'
    assert 'No space left on device' in out.result['stderr']
    assert os.listdir(str(tmp_path)) == []


def test_stale_temp_from_a_killed_run_is_removed(module, tmp_path):
    stale = tmp_path / '.disk.qcow2.abcdefgh.part'
    stale.write_bytes(b'half an image')
    module({'path': str(tmp_path / 'disk.qcow2'), 'size': '1G'})
    assert os.listdir(str(tmp_path)) == ['disk.qcow2']


def test_stale_sidecar_temp_is_removed(module, tmp_path):
    stale = tmp_path / '..disk.qcow2.source.json.abcdefgh.part'
    stale.write_bytes(b'{}')
    module({'path': str(tmp_path / 'disk.qcow2'), 'size': '1G'})
    assert os.listdir(str(tmp_path)) == ['disk.qcow2']


# -- checks and repairs -----------------------------------------------------------

def check_spec(path):
    return 'json:' + json.dumps({'backing': None, 'driver': 'qcow2', 'file': {'driver': 'file', 'filename': path}},
                                sort_keys=True)


def test_repair_leaks_four_steps(module, tmp_path):
    path = str(tmp_path / 'disk.qcow2')
    module.fake.make(path, 'qcow2', GiB)
    module.fake.leaks[module.fake.key(path)] = 2
    args = {'path': path, 'repair': 'leaks'}
    results = [module(args, check_mode=True, diff=True), module(args, diff=True), module(args),
               module(args, check_mode=True)]
    assert [out.result['changed'] for out in results] == [True, True, False, False]
    assert module.fake.changing_calls() == [[QEMU, 'check', '--output=json', '-r', 'leaks', check_spec(path)]]
    check, real = results[0].result, results[1].result
    assert check['cmd'] == real['cmd'] == module.fake.changing_calls()[0]
    assert check['check']['leaks'] == real['check']['leaks'] == 2
    assert real['repaired']['leaks_fixed'] == 2 and real['repaired']['leaks'] == 0
    assert real['diff']['before']['check'] == {'leaks': 2, 'corruptions': 0}
    assert real['diff']['after']['check'] == check['diff']['after']['check'] == {'leaks': 0, 'corruptions': 0}
    assert results[2].result['check']['leaks'] == 0


def test_repair_is_refused_for_raw_images(module, tmp_path):
    out = module({'path': str(tmp_path / 'disk.raw'), 'format': 'raw', 'size': '1M', 'repair': 'leaks'})
    assert out.failed and 'cannot check or repair raw images' in out.result['msg'] and module.fake.calls == []


def test_an_interrupted_change_is_checked_and_reported(module, tmp_path, monkeypatch):
    path = str(tmp_path / 'disk.qcow2')
    module.fake.make(path, 'qcow2', GiB)
    module.fake.leaks[module.fake.key(path)] = 3
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, text: warnings.append(text))
    # a killed run leaves its lock file behind
    open(str(tmp_path / '.disk.qcow2.lock'), 'w').close()
    for check_mode in (True, False):
        out = module({'path': path}, check_mode=check_mode)
        assert not out.failed and out.result['changed'] is False
        assert out.result['check']['leaks'] == 3
    assert len(warnings) == 2 and 'a change to it was interrupted' in warnings[0] and 'repair: leaks' in warnings[0]
    assert module.fake.changing_calls() == []
    # the lock file is gone with that run: the next one does not check again
    calls = len(module.fake.calls)
    assert 'check' not in module({'path': path}).result
    assert [call[1] for call in module.fake.calls[calls:]] == ['info']


def test_a_run_that_was_not_interrupted_does_not_check(module, tmp_path):
    path = str(tmp_path / 'disk.qcow2')
    module.fake.make(path, 'qcow2', GiB)
    out = module({'path': path, 'size': '1G'})
    assert 'check' not in out.result and [call[1] for call in module.fake.calls] == ['info']


@pytest.mark.parametrize('options, words', [
    ({'data_file': '/etc/passwd'}, 'external data file'),
    ({'data-file': '/etc/passwd', 'data_file_raw': True}, 'external data file'),
    ({'backing_file': '/x'}, 'cow_image'),
])
def test_options_that_name_other_files_are_refused(module, tmp_path, options, words):
    out = module({'path': str(tmp_path / 'disk.qcow2'), 'size': '1G', 'options': options})
    assert out.failed and words in out.result['msg'] and module.fake.calls == []


def test_a_vmdk_subformat_with_extent_files_is_refused(module, tmp_path):
    out = module({'path': str(tmp_path / 'disk.vmdk'), 'format': 'vmdk', 'size': '1G',
                  'options': {'subformat': 'monolithicFlat'}})
    assert out.failed and 'extent files beside the image' in out.result['msg'] and module.fake.calls == []
    assert os.listdir(str(tmp_path)) == []
