# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import fcntl
import json
import os
import signal
import struct

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _qemu_img
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import (
    DEFAULT_INFO_LIMITS,
    CommandFailedError,
    ImageNotFoundError,
    NoSpaceError,
    QemuImg,
    ResourceLimitError,
    WrongFormatError,
    encode_options,
    image_facts,
    normalize_info,
    qemu_lock_held,
)
from ansible_collections.hypervisor.images.plugins.module_utils._run import ResourceLimits, ToolNotFoundError
from ansible_collections.hypervisor.images.tests.unit.plugins.fake_runner import FakeRunner

QEMU = '/usr/bin/qemu-img'


def call(runner, index=0):
    """The argv and the resource limits of one recorded call."""
    return runner.calls[index], runner.limits[index]


def qemu_with(*answers):
    runner = FakeRunner(*answers)
    return QemuImg(binary=QEMU, runner=runner), runner


QCOW2_INFO = {
    'virtual-size': 1073741824, 'filename': '/img/a.qcow2', 'cluster-size': 65536, 'format': 'qcow2',
    'actual-size': 200704, 'dirty-flag': False,
    'format-specific': {'type': 'qcow2', 'data': {'compat': '1.1', 'lazy-refcounts': False,
                                                  'refcount-bits': 16, 'corrupt': False, 'extended-l2': False}},
    'snapshots': [{'icount': 0, 'vm-clock-nsec': 0, 'name': 'snap1', 'date-sec': 1795304539,
                   'date-nsec': 778071000, 'vm-clock-sec': 0, 'id': '1', 'vm-state-size': 0}],
}


# -- argv pinned for every call ------------------------------------------------

def test_info_argv_has_json_force_share_and_explicit_format():
    qemu, runner = qemu_with((0, json.dumps(QCOW2_INFO), ''))
    data = qemu.info('/img/a.qcow2', 'qcow2')
    assert list(zip(runner.calls, runner.limits)) == [
        ([QEMU, 'info', '--output=json', '-U', '-f', 'qcow2', '--', '/img/a.qcow2'], DEFAULT_INFO_LIMITS)]
    assert data['format'] == 'qcow2'


def test_info_argv_backing_chain_without_force_share():
    qemu, runner = qemu_with((0, '[]', ''))
    qemu.info('/img/o', 'qcow2', backing_chain=True, force_share=False)
    assert runner.calls[0] == [QEMU, 'info', '--output=json', '--backing-chain', '-f', 'qcow2', '--', '/img/o']


def test_info_uses_configured_limits():
    limits = ResourceLimits(address_space=512 * 1024 * 1024, cpu_time=5)
    runner = FakeRunner((0, '{}', ''))
    QemuImg(binary=QEMU, runner=runner, info_limits=limits).info('/x', 'raw')
    assert runner.limits[0] is limits


@pytest.mark.parametrize('fmt', [None, ''])
def test_every_command_refuses_to_let_qemu_guess(fmt):
    qemu, runner = qemu_with()
    for call in (lambda: qemu.info('/x', fmt),
                 lambda: qemu.create('/x', fmt, 1024),
                 lambda: qemu.create('/x', 'qcow2', backing_file='/b', backing_format=fmt),
                 lambda: qemu.resize('/x', fmt, 1024),
                 lambda: qemu.convert('/x', '/y', fmt, 'raw'),
                 lambda: qemu.convert('/x', '/y', 'raw', fmt),
                 lambda: qemu.measure('/x', fmt, 'qcow2'),
                 lambda: qemu.rebase('/x', '/b', fmt),
                 lambda: qemu.compare('/x', '/y', fmt, 'raw')):
        with pytest.raises(ValueError, match='explicit format'):
            call()
    assert runner.calls == []


def test_create_argv_plain():
    qemu, runner = qemu_with()
    qemu.create('/img/a.qcow2', 'qcow2', 1073741824)
    assert call(runner) == ([QEMU, 'create', '-q', '-f', 'qcow2', '--', '/img/a.qcow2', '1073741824'], None)


def test_create_argv_with_backing_and_options():
    qemu, runner = qemu_with()
    qemu.create('/img/o', 'qcow2', size=None, backing_file='/base/b', backing_format='raw',
                options={'cluster_size': 2097152, 'lazy_refcounts': True, 'preallocation': 'metadata'})
    assert runner.calls[0] == [
        QEMU, 'create', '-q', '-f', 'qcow2', '-b', '/base/b', '-F', 'raw',
        '-o', 'cluster_size=2097152,lazy_refcounts=on,preallocation=metadata', '--', '/img/o']


def test_create_argv_empty_options_are_left_out():
    qemu, runner = qemu_with()
    qemu.create('/img/a', 'raw', 512, options={})
    assert runner.calls[0] == [QEMU, 'create', '-q', '-f', 'raw', '--', '/img/a', '512']


@pytest.mark.parametrize('kwargs, flags', [
    ({}, []),
    ({'shrink': True}, ['--shrink']),
    ({'preallocation': 'falloc'}, ['--preallocation=falloc']),
])
def test_resize_argv(kwargs, flags):
    qemu, runner = qemu_with()
    qemu.resize('/img/a.raw', 'raw', 2048, **kwargs)
    assert call(runner) == ([QEMU, 'resize', '-q', '-f', 'raw'] + flags + ['--', '/img/a.raw', '2048'], None)


@pytest.mark.parametrize('kwargs, middle', [
    ({}, ['-O', 'qcow2', '-t', 'none']),
    ({'cache_mode': 'writeback'}, ['-O', 'qcow2', '-t', 'writeback']),
    ({'src_cache_mode': 'none'}, ['-O', 'qcow2', '-t', 'none', '-T', 'none']),
    ({'compress': True}, ['-O', 'qcow2', '-t', 'none', '-c']),
    ({'options': {'compat': '1.1', 'x': 'a,b'}}, ['-O', 'qcow2', '-t', 'none', '-o', 'compat=1.1,x=a,,b']),
    ({'parallel': 16}, ['-O', 'qcow2', '-t', 'none', '-m', '16']),
    ({'out_of_order': True}, ['-O', 'qcow2', '-t', 'none', '-W']),
    ({'compress': True, 'parallel': 4, 'out_of_order': True, 'cache_mode': 'unsafe'},
     ['-O', 'qcow2', '-t', 'unsafe', '-c', '-m', '4', '-W']),
])
def test_convert_argv(kwargs, middle):
    qemu, runner = qemu_with()
    qemu.convert('/src.raw', '/dst.qcow2', 'raw', 'qcow2', **kwargs)
    assert call(runner) == ([QEMU, 'convert', '-q', '-f', 'raw'] + middle + ['--', '/src.raw', '/dst.qcow2'], None)


def test_convert_argv_snapshot_uses_l_not_s():
    qemu, runner = qemu_with()
    qemu.convert('/src.qcow2', '/snap.raw', 'qcow2', 'raw', snapshot='daily,1')
    assert runner.calls[0] == [QEMU, 'convert', '-q', '-f', 'qcow2', '-l', 'snapshot.name=daily,,1',
                               '-O', 'raw', '-t', 'none', '--', '/src.qcow2', '/snap.raw']


def test_measure_argv_and_parse():
    qemu, runner = qemu_with((0, '{"required": 393216, "fully-allocated": 1074135040}', ''))
    data = qemu.measure('/src.raw', 'raw', 'qcow2', options={'cluster_size': '2M'})
    assert call(runner) == ([QEMU, 'measure', '--output=json', '-f', 'raw', '-O', 'qcow2',
                             '-o', 'cluster_size=2M', '--', '/src.raw'], DEFAULT_INFO_LIMITS)
    assert data == {'required': 393216, 'fully-allocated': 1074135040}


def test_measure_argv_snapshot():
    qemu, runner = qemu_with((0, '{}', ''))
    qemu.measure('/src', 'qcow2', 'raw', snapshot='s1')
    assert runner.calls[0] == [QEMU, 'measure', '--output=json', '-f', 'qcow2', '-l', 'snapshot.name=s1',
                               '-O', 'raw', '--', '/src']


@pytest.mark.parametrize('unsafe, flags', [(False, []), (True, ['-u'])])
def test_rebase_argv(unsafe, flags):
    qemu, runner = qemu_with()
    qemu.rebase('/img/o', '/base/new', 'raw', unsafe=unsafe)
    assert runner.calls[0] == [QEMU, 'rebase', '-q', '-f', 'qcow2'] + flags + [
        '-F', 'raw', '-b', '/base/new', '--', '/img/o']


@pytest.mark.parametrize('rc, same', [(0, True), (1, False)])
def test_compare_argv_and_answer(rc, same):
    qemu, runner = qemu_with((rc, '', ''))
    assert qemu.compare('/a', '/b', 'raw', 'qcow2', strict=True) is same
    assert runner.calls[0] == [QEMU, 'compare', '-q', '-f', 'raw', '-F', 'qcow2', '-s', '--', '/a', '/b']


def test_compare_error_raises():
    qemu, runner = qemu_with((2, '', "qemu-img: Could not open '/a': No such file or directory"))
    with pytest.raises(ImageNotFoundError):
        qemu.compare('/a', '/b', 'raw', 'raw')


# -- options -------------------------------------------------------------------

def test_encode_options_escapes_commas_and_sorts():
    assert encode_options({'b': 'x,y', 'a': True, 'c': False, 'd': 3, 'e': None}) == 'a=on,b=x,,y,c=off,d=3'


@pytest.mark.parametrize('key', ['', 'a,b', 'a=b', ' a'])
def test_encode_options_rejects_bad_names(key):
    with pytest.raises(ValueError, match='Invalid qemu-img option name'):
        encode_options({key: 1})


# -- errors --------------------------------------------------------------------

@pytest.mark.parametrize('rc, stderr, cls, fragment', [
    (1, "qemu-img: Could not open '/x': Could not open '/x': No such file or directory", ImageNotFoundError,
     'does not exist'),
    (1, "qemu-img: Could not open '/x': Image is not in qcow2 format", WrongFormatError, 'not in qcow2 format'),
    (1, 'qemu-img: error while writing at byte 0: No space left on device', NoSpaceError, 'ran out of space'),
    (1, 'qemu-img: something else broke', CommandFailedError, 'failed (rc=1): qemu-img: something else broke'),
    (-signal.SIGXCPU, '', ResourceLimitError, 'resource limits'),
    (-signal.SIGKILL, '', ResourceLimitError, 'resource limits'),
])
def test_info_errors_are_typed_and_carry_the_command(rc, stderr, cls, fragment):
    qemu, runner = qemu_with((rc, '', stderr))
    with pytest.raises(cls) as excinfo:
        qemu.info('/x', 'qcow2')
    exc = excinfo.value
    assert fragment in exc.msg
    assert '/x' in exc.msg
    assert exc.cmd == [QEMU, 'info', '--output=json', '-U', '-f', 'qcow2', '--', '/x']
    assert exc.rc == rc
    assert exc.stderr == stderr
    result = exc.to_result()
    assert result['cmd'] == exc.cmd and result['rc'] == rc and result['msg'] == exc.msg


def test_info_bad_json():
    qemu, runner = qemu_with((0, 'not json', ''))
    with pytest.raises(CommandFailedError, match='not JSON'):
        qemu.info('/x', 'raw')


def test_signal_without_limits_is_an_ordinary_failure():
    qemu, runner = qemu_with((-signal.SIGKILL, '', ''))
    with pytest.raises(CommandFailedError) as excinfo:
        qemu.create('/x', 'raw', 512)
    assert not isinstance(excinfo.value, ResourceLimitError)


# -- facts ---------------------------------------------------------------------

def test_normalize_info():
    facts = normalize_info(QCOW2_INFO)
    assert facts['format'] == 'qcow2'
    assert facts['virtual_size'] == 1073741824
    assert facts['actual_size'] == 200704
    assert facts['cluster_size'] == 65536
    assert facts['backing_file'] is None
    assert facts['dirty'] is False and facts['encrypted'] is False
    assert facts['format_specific']['data']['lazy_refcounts'] is False
    assert facts['snapshots'][0]['name'] == 'snap1'
    assert facts['snapshots'][0]['vm_state_size'] == 0
    assert facts['snapshots'][0]['date'] == '2026-11-21T23:42:19Z'


def write(path, data):
    with open(path, 'wb') as handle:
        handle.write(data)
    return str(path)


def test_image_facts_detects_format_itself(tmp_path):
    path = write(tmp_path / 'a', b'QFI\xfb\x00\x00\x00\x03' + b'\0' * 504)
    qemu, runner = qemu_with((0, json.dumps(QCOW2_INFO), ''))
    facts = image_facts(qemu, path)
    assert runner.calls[0][-4:] == ['-f', 'qcow2', '--', path]
    assert facts['path'] == path


def test_image_facts_refuses_raw_declared_file_with_qcow2_header(tmp_path):
    path = write(tmp_path / 'evil.raw', b'QFI\xfb\x00\x00\x00\x03' + b'\0' * 504)
    qemu, runner = qemu_with()
    with pytest.raises(WrongFormatError, match='declared as raw but its header says qcow2'):
        image_facts(qemu, path, declared_format='raw')
    assert runner.calls == []


def test_image_facts_passes_declared_format_for_unknown_magic(tmp_path):
    path = write(tmp_path / 'fixed.vhd', b'\0' * 512)
    qemu, runner = qemu_with((0, json.dumps(dict(QCOW2_INFO, format='vpc')), ''))
    image_facts(qemu, path, declared_format='vpc')
    assert runner.calls[0][-4:] == ['-f', 'vpc', '--', path]


def test_image_facts_backing_chain(tmp_path):
    path = write(tmp_path / 'o', b'QFI\xfb\x00\x00\x00\x03' + b'\0' * 504)
    top = dict(QCOW2_INFO, **{'backing-filename': 'base', 'full-backing-filename': str(tmp_path / 'base'),
                              'backing-filename-format': 'raw'})
    base = {'virtual-size': 1073741824, 'filename': str(tmp_path / 'base'), 'format': 'raw', 'actual-size': 4096}
    qemu, runner = qemu_with((0, json.dumps([top, base]), ''))
    facts = image_facts(qemu, path, backing_chain=True)
    assert '--backing-chain' in runner.calls[0]
    assert facts['backing_format'] == 'raw'
    assert [item['format'] for item in facts['backing_chain']] == ['qcow2', 'raw']


def test_image_facts_missing(tmp_path):
    qemu, runner = qemu_with()
    with pytest.raises(ImageNotFoundError):
        image_facts(qemu, str(tmp_path / 'missing'))


def test_qemu_img_binary_is_looked_up_with_its_package(monkeypatch):
    asked = []

    def find_tool(name, package):
        asked.append((name, package))
        return '/opt/bin/qemu-img'

    monkeypatch.setattr(_qemu_img, 'find_tool', find_tool)
    assert QemuImg().binary == '/opt/bin/qemu-img'
    assert asked == [('qemu-img', _qemu_img.PACKAGE)] and 'qemu-utils' in _qemu_img.PACKAGE
    assert QemuImg().runner is _qemu_img.run_command


def test_missing_qemu_img_names_its_package(monkeypatch, tmp_path):
    monkeypatch.setenv('PATH', str(tmp_path))
    with pytest.raises(ToolNotFoundError) as excinfo:
        QemuImg()
    assert 'qemu-img is not installed' in excinfo.value.msg and 'qemu-utils' in excinfo.value.msg


# -- qemu's image locks -----------------------------------------------------------

def test_qemu_lock_held(tmp_path):
    path = str(tmp_path / 'disk.raw')
    with open(path, 'wb') as handle:
        handle.truncate(1024 * 1024)
    assert qemu_lock_held(path) is False
    # qemu holds shared locks on its lock bytes through its own open file description
    fd = os.open(path, os.O_RDWR)
    try:
        lock = struct.pack('hhqqi4x', fcntl.F_RDLCK, os.SEEK_SET, 101, 1, 0)
        fcntl.fcntl(fd, getattr(fcntl, 'F_OFD_SETLK', 37), lock)
        assert qemu_lock_held(path) is True
    finally:
        os.close(fd)
    assert qemu_lock_held(path) is False
