# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions and command lines of image_convert, with a fake qemu-img."""

from __future__ import annotations

import os

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _convert, _task
from ansible_collections.hypervisor.images.plugins.modules import image_convert
from ansible_collections.hypervisor.images.tests.unit.plugins.modules.utils import QEMU

MiB = 1024 * 1024


@pytest.fixture
def module(monkeypatch, fake_qemu, run_module, tmp_path):
    monkeypatch.setattr(_task, 'QemuImg', fake_qemu.factory)
    monkeypatch.setattr(_convert, 'direct_io_supported', lambda directory: True)

    def run(args, **kwargs):
        return run_module(image_convert.main, args, **kwargs)

    run.fake = fake_qemu
    run.src = str(tmp_path / 'src.raw')
    run.dest = str(tmp_path / 'dest.qcow2')
    fake_qemu.make(run.src, 'raw', 64 * MiB)
    return run


def converts(fake):
    return [call for call in fake.calls if call[1] == 'convert']


@pytest.mark.parametrize('args, flags', [
    ({}, ['-O', 'qcow2', '-t', 'none']),
    ({'cache_mode': 'writeback'}, ['-O', 'qcow2', '-t', 'writeback']),
    ({'cache_mode': 'unsafe'}, ['-O', 'qcow2', '-t', 'unsafe']),
    ({'compress': True}, ['-O', 'qcow2', '-t', 'none', '-c']),
    ({'options': {'cluster_size': '2M', 'lazy_refcounts': True}},
     ['-O', 'qcow2', '-t', 'none', '-o', 'cluster_size=2M,lazy_refcounts=on']),
    ({'parallel': 16, 'out_of_order': True}, ['-O', 'qcow2', '-t', 'none', '-m', '16', '-W']),
    ({'compress': True, 'parallel': 2, 'out_of_order': True, 'options': {'compat': '1.1'}},
     ['-O', 'qcow2', '-t', 'none', '-c', '-o', 'compat=1.1', '-m', '2', '-W']),
])
def test_convert_argv(module, args, flags):
    out = module(dict(src=module.src, dest=module.dest, dest_format='qcow2', **args))
    assert not out.failed, out.result
    (convert,) = converts(module.fake)
    assert convert[:5] == [QEMU, 'convert', '-q', '-f', 'raw']
    assert convert[5:-3] == flags
    assert convert[-3:-1] == ['--', module.src]
    assert os.path.basename(convert[-1]).startswith('.dest.qcow2.') and convert[-1].endswith('.part')
    assert out.result['cmd'] == convert
    assert out.result['cache_mode'] == flags[3]


def test_declared_source_format_is_passed_and_measured(module):
    module(dict(src=module.src, src_format='raw', dest=module.dest, dest_format='raw'))
    measure = [call for call in module.fake.calls if call[1] == 'measure'][0]
    assert measure == [QEMU, 'measure', '--output=json', '-f', 'raw', '-O', 'raw', '--', module.src]


def test_no_op_rerun_runs_no_conversion_and_no_measure(module):
    module(dict(src=module.src, dest=module.dest, dest_format='qcow2'))
    module.fake.calls[:] = []
    out = module(dict(src=module.src, dest=module.dest, dest_format='qcow2'))
    assert out.result['changed'] is False
    assert [call[1] for call in module.fake.calls] == ['info', 'info']  # the source's header, then dest's facts


def test_changed_source_converts_again_with_a_reason(module):
    module(dict(src=module.src, dest=module.dest, dest_format='qcow2'))
    with open(module.src, 'ab') as handle:
        handle.write(b'\1')
    out = module(dict(src=module.src, dest=module.dest, dest_format='qcow2'))
    assert out.result['changed'] is True
    assert out.result['reason'].startswith('the source changed (')


def test_not_enough_space_fails_before_writing(module, monkeypatch):
    monkeypatch.setattr(_convert, 'fs_usage', lambda path: {'total': 10 * MiB, 'free': 3 * MiB, 'used': 7 * MiB})
    module.fake.measure_required = 5 * MiB
    out = module(dict(src=module.src, dest=module.dest, dest_format='qcow2'))
    assert out.failed
    assert 'needs 5.0 MiB (5242880 bytes)' in out.result['msg']
    assert 'has 3.0 MiB (3145728 bytes) free, 2.0 MiB (2097152 bytes) short' in out.result['msg']
    assert converts(module.fake) == []
    assert not os.path.exists(module.dest)


def test_preallocation_full_is_measured_fully_allocated(module, monkeypatch):
    monkeypatch.setattr(_convert, 'fs_usage', lambda path: {'total': 10 * MiB, 'free': 3 * MiB, 'used': 7 * MiB})
    module.fake.measure_required = 2 * MiB  # fully allocated: 4 MiB
    out = module(dict(src=module.src, dest=module.dest, dest_format='qcow2', options={'preallocation': 'full'}))
    assert out.failed and 'needs 4.0 MiB' in out.result['msg']
    out = module(dict(src=module.src, dest=module.dest, dest_format='qcow2', options={'preallocation': 'full'},
                      check_free_space=False))
    assert not out.failed


@pytest.mark.parametrize('probe, cache_mode', [(True, 'none'), (False, 'writeback')])
def test_check_mode_reports_what_the_real_run_runs(module, monkeypatch, probe, cache_mode):
    probed = []
    monkeypatch.setattr(_convert, 'direct_io_supported', lambda directory: probed.append(directory) or probe)
    out = module(dict(src=module.src, dest=module.dest, dest_format='qcow2'), check_mode=True, diff=True)
    assert out.result['changed'] is True
    assert out.result['cache_mode'] == cache_mode and probed == [os.path.dirname(module.dest)]
    assert out.result['cmd'][-1] == module.dest
    assert converts(module.fake) == []
    assert not os.path.exists(module.dest)
    assert out.result['diff']['after']['format'] == 'qcow2'
    real = module(dict(src=module.src, dest=module.dest, dest_format='qcow2'))
    assert real.result['cache_mode'] == cache_mode
    assert real.result['cmd'][:-1] == out.result['cmd'][:-1]


@pytest.mark.parametrize('same, failed', [(True, False), (False, True)])
def test_foreign_dest_is_compared_once(module, same, failed):
    module.fake.make(module.dest, 'qcow2', 64 * MiB)
    module.fake.compare_same = same
    out = module(dict(src=module.src, dest=module.dest, dest_format='qcow2'))
    assert out.failed is failed
    assert out.result['changed'] is False
    compare = [call for call in module.fake.calls if call[1] == 'compare']
    assert compare == [[QEMU, 'compare', '-q', '-f', 'raw', '-F', 'qcow2', '--', module.src, module.dest]]
    assert converts(module.fake) == []
    if failed:
        assert 'force: true' in out.result['msg']
    else:
        assert out.result['adopted'] is True


def test_foreign_dest_in_another_format_is_refused_without_compare(module):
    module.fake.make(module.dest, 'raw', 64 * MiB)
    out = module(dict(src=module.src, dest=module.dest, dest_format='qcow2'))
    assert out.failed and 'exists as a raw image, not qcow2' in out.result['msg']
    assert [call for call in module.fake.calls if call[1] == 'compare'] == []


@pytest.mark.parametrize('args, fragment', [
    ({'compress': True, 'dest_format': 'raw'}, 'can only compress qcow2'),
    ({'parallel': 17}, 'parallel: 17 is out of range'),
    ({'parallel': 0}, 'parallel: 0 is out of range'),
    ({'options': {'size': '1G'}}, 'options: size cannot be set'),
    ({'options': {'a,b': 1}}, 'Invalid qemu-img option name'),
])
def test_bad_input(module, args, fragment):
    params = dict(src=module.src, dest=module.dest, dest_format='qcow2')
    params.update(args)
    out = module(params)
    assert out.failed and fragment in out.result['msg']
    assert module.fake.calls == []


def test_same_file(module):
    out = module(dict(src=module.src, dest=module.src, dest_format='raw'))
    assert out.failed and 'are the same file' in out.result['msg']


def test_missing_source_leaves_dest(module, tmp_path):
    out = module(dict(src=str(tmp_path / 'nope'), dest=module.dest, dest_format='qcow2'))
    assert out.failed and 'does not exist; nothing was written' in out.result['msg']


def test_qemu_failure_removes_the_temp_and_keeps_dest(module, tmp_path):
    module.fake.make(module.dest, 'qcow2', 1)
    with open(module.dest, 'rb') as handle:
        before = handle.read()
    module.fake.fail_on['convert'] = (1, 'qemu-img: error while writing at byte 0: No space left on device')
    out = module(dict(src=module.src, dest=module.dest, dest_format='qcow2', force=True))
    assert out.failed and 'ran out of space' in out.result['msg']
    assert out.result['rc'] == 1 and out.result['cmd'][1] == 'convert'
    assert sorted(os.listdir(str(tmp_path))) == ['dest.qcow2', 'src.raw']
    with open(module.dest, 'rb') as handle:
        assert handle.read() == before


def test_a_source_written_during_the_conversion_is_not_recorded(module, monkeypatch, tmp_path):
    real_answer = module.fake.answer

    def convert_while_a_guest_writes(argv):
        answer = real_answer(argv)
        if argv[1] == 'convert':
            os.utime(module.src, ns=(1, 1))
        return answer

    monkeypatch.setattr(module.fake, 'answer', convert_while_a_guest_writes)
    out = module(dict(src=module.src, dest=module.dest, dest_format='qcow2'))
    assert out.failed and 'changed while it was being converted' in out.result['msg']
    assert 'nothing was recorded' in out.result['msg']
    assert sorted(os.listdir(str(tmp_path))) == ['src.raw']


def test_options_that_name_other_files_are_refused(module, tmp_path):
    out = module(dict(src=module.src, dest=module.dest, dest_format='qcow2', options={'data_file': '/etc/passwd'}))
    assert out.failed and 'external data file' in out.result['msg'] and module.fake.calls == []


def test_a_conversion_without_room_reports_no_change(module):
    module.fake.measure_required = 1 << 60
    out = module(dict(src=module.src, dest=module.dest, dest_format='qcow2'))
    assert out.failed and 'Not enough space' in out.result['msg'] and out.result['changed'] is False
