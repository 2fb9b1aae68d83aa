# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inspector's API on synthetic data; real images are in test_inspect_corpus.py."""

from __future__ import annotations

import io
import os
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.hypervisor.images.plugins.module_utils import _inspect
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import (
    InspectError,
    UnsafeImageError,
    detect_format,
    format_from_header,
    inspect,
    inspect_file,
    is_plain_file_name,
    name_problem,
)
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError


def qcow2_header(size=1024 * 1024, backing=None):
    """A minimal valid qcow2 version 3 image: header, refcount table and L1 table clusters."""
    header = struct.pack('>4sIQIIQIIQQIIQQQQII', b'QFI\xfb', 3, 0, 0, 16, size, 0, 1, 3 * 65536, 65536, 1, 0, 0,
                         0, 0, 0, 4, 112)
    header = header.ljust(112, b'\0') + b'\0' * 8
    if backing:
        header = header[:8] + struct.pack('>QI', 120, len(backing)) + header[20:] + backing
    return header.ljust(4 * 65536, b'\0')


def look(data, **kwargs):
    return inspect_file(io.BytesIO(data), **kwargs)


def codes(inspection):
    return sorted(reason.code for reason in inspection.reasons)


# --- the interface other modules use today --------------------------------

@pytest.mark.parametrize('header, expected', [
    (b'QFI\xfb' + struct.pack('>I', 3) + b'\0' * 100, 'qcow2'),
    (b'QFI\xfb' + struct.pack('>I', 2) + b'\0' * 100, 'qcow2'),
    (b'QFI\xfb' + struct.pack('>I', 4) + b'\0' * 100, 'qcow2'),
    (b'QFI\xfb' + struct.pack('>I', 1) + b'\0' * 100, 'qcow'),
    (b'QFI\xfb', 'qcow'),
    (b'QED\x00' + b'\0' * 60, 'qed'),
    (b'KDMV' + b'\0' * 60, 'vmdk'),
    (b'# Disk DescriptorFile\nversion=1\n', 'vmdk'),
    (b'# a comment\n  \nversion=2\r\n', 'vmdk'),
    (b'vhdxfile' + b'\0' * 60, 'vhdx'),
    (b'conectix' + b'\0' * 60, 'vpc'),
    (b'LUKS\xba\xbe\x00\x01', 'luks'),
    (b'WithoutFreeSpace' + b'\0' * 60, 'parallels'),
    (b'Bochs Virtual HD Image\0', 'bochs'),
    (b'<<< Oracle VM VirtualBox Disk Image >>>\n'.ljust(0x40, b'\0') + struct.pack('<I', 0xBEDA107F), 'vdi'),
    (_inspect._CLOOP_MAGIC, 'cloop'),
    (b'', 'raw'),
    (b'\0' * 512, 'raw'),
    (b'\xeb\x63\x90' + b'\0' * 509, 'raw'),
    (b'QFI', 'raw'),
    (b'version=4\n', 'raw'),
])
def test_format_from_header(header, expected):
    assert format_from_header(header) == expected


def test_detect_format_reads_the_file(tmp_path):
    image = tmp_path / 'disk'
    image.write_bytes(qcow2_header())
    assert detect_format(str(image)) == 'qcow2'
    image.write_bytes(b'hello')
    assert detect_format(str(image)) == 'raw'


def test_detect_format_missing_file(tmp_path):
    with pytest.raises(InspectError) as excinfo:
        detect_format(str(tmp_path / 'nope'))
    assert 'nope' in excinfo.value.msg


def test_detectable_formats_exclude_the_raw_family():
    assert 'raw' not in _inspect.DETECTABLE_FORMATS and 'iso' not in _inspect.DETECTABLE_FORMATS
    assert set(['qcow2', 'vmdk', 'vpc', 'vhdx', 'qed', 'vdi', 'luks']) <= _inspect.DETECTABLE_FORMATS


def test_errors_derive_from_task_error():
    assert issubclass(InspectError, TaskError) and issubclass(UnsafeImageError, InspectError)


# --- names ----------------------------------------------------------------

@pytest.mark.parametrize('name, plain', [
    ('base.qcow2', True),
    ('/var/lib/images/base.qcow2', True),
    ('../images/base.qcow2', True),
    ('./file:x', True),
    ('/images/a:b', True),
    ('dir/a:b', True),
    ('file:x', False),
    ('nbd:127.0.0.1:10809', False),
    ('nbd+unix:///export?socket=/run/nbd', False),
    ('json:{"driver": "file", "filename": "/etc/shadow"}', False),
    ('JSON:{}', False),
    ('', False),
    ('a\nb', False),
    ('a\0b', False),
    (b'base.raw', True),
    (b'http:foo', False),
])
def test_plain_file_names(name, plain):
    assert is_plain_file_name(name) is plain
    assert (name_problem(name) is None) is plain


def test_name_problem_explains():
    assert 'protocol' in name_problem('nbd:host:1')
    assert 'json' in name_problem('json:{}')


# --- verdicts -------------------------------------------------------------

def test_minimal_qcow2_is_safe():
    inspection = look(qcow2_header())
    assert (inspection.format, inspection.qemu_format, inspection.virtual_size) == ('qcow2', 'qcow2', 1024 * 1024)
    assert inspection.safe and inspection.reasons == ()


def test_backing_file_is_refusable_and_allowable():
    inspection = look(qcow2_header(backing=b'base.raw'))
    assert codes(inspection) == ['backing_file', 'backing_format_missing']
    assert inspection.backing_file == 'base.raw' and inspection.backing_format is None
    assert inspection.is_safe(allow=['backing_file', 'backing_format_missing'])
    assert not inspection.is_safe(allow=['backing_file'])


def test_allow_refuses_codes_that_are_never_acceptable():
    with pytest.raises(ValueError):
        look(qcow2_header(), allow=['data_file'])
    with pytest.raises(ValueError):
        look(qcow2_header()).verdict(allow=['polyglot'])
    with pytest.raises(ValueError):
        inspect('/nonexistent', allow=['protocol_name'])
    assert _inspect.ALLOWABLE < set(_inspect.REASON_CODES)


def test_verdict_shape():
    inspection = look(qcow2_header(backing=b'base.raw'), allow=['backing_file'])
    verdict = inspection.verdict()
    assert verdict['safe'] is False
    assert [reason['code'] for reason in verdict['reasons']] == ['backing_format_missing']
    assert [reason['code'] for reason in verdict['allowed']] == ['backing_file']
    assert set(verdict['reasons'][0]) == set(['code', 'message'])
    assert inspection.to_dict()['verdict'] == verdict
    assert set(inspection.to_dict()) >= set(['format', 'qemu_format', 'virtual_size', 'backing_file', 'backing_format',
                                             'data_file', 'matches', 'verdict'])


def test_require_safe_names_path_reasons_and_fix(tmp_path):
    image = tmp_path / 'disk.img'
    image.write_bytes(qcow2_header(backing=b'nbd:127.0.0.1:10809'))
    inspection = inspect(str(image), allow=['backing_file', 'backing_format_missing'])
    with pytest.raises(UnsafeImageError) as excinfo:
        inspection.require_safe()
    error = excinfo.value
    assert str(image) in error.msg and 'nbd:127.0.0.1:10809' in error.msg and 'protocol' in error.msg
    assert error.path == str(image) and error.inspection is inspection
    assert error.to_result()['inspection']['verdict']['safe'] is False
    assert look(qcow2_header()).require_safe().safe


@pytest.mark.parametrize('claimed, data, agrees', [
    ('qcow2', qcow2_header(), True),
    ('raw', qcow2_header(), False),
    ('vmdk', qcow2_header(), False),
    ('qcow2', b'\0' * 65536, False),
    ('raw', b'\0' * 65536, True),
    ('iso', b'\0' * 65536, False),
    ('vhd', b'\0' * 65536, False),
    ('ploop', b'\0' * 65536, False),
    ('raw', b'KDMV' + b'\0' * 65532, False),
    ('raw', b'# Disk DescriptorFile\n', False),
])
def test_claimed_format_must_agree(claimed, data, agrees):
    assert ('format_mismatch' not in codes(look(data, claimed_format=claimed))) is agrees


def test_virtual_size_limit():
    assert codes(look(qcow2_header(), max_virtual_size=1024)) == ['too_large']
    assert look(qcow2_header(), max_virtual_size=1024 * 1024).safe


def iso_signature(data):
    data = bytearray(data.ljust(40960, b'\0'))
    data[32768:32775] = b'\x01CD001\x01'
    return bytes(data)


def vhd_footer():
    footer = bytearray(struct.pack('>8sIIQI4sIIQQHBBII', b'conectix', 2, 0x10000, 2 ** 64 - 1, 0, b'qem2', 0, 0,
                                   40960, 40960, 20, 4, 1, 2, 0).ljust(512, b'\0'))
    footer[64:68] = struct.pack('>I', ~sum(footer) & 0xFFFFFFFF)
    return bytes(footer)


def test_polyglots():
    both = look(iso_signature(qcow2_header()))
    assert both.format == 'qcow2' and 'polyglot' in codes(both)
    assert codes(look(qcow2_header() + vhd_footer())) == ['polyglot']
    # A fixed VHD is a raw disk plus a footer: an ISO inside is its content, not a second format.
    fixed = look(iso_signature(b'') + vhd_footer())
    assert (fixed.format, fixed.subformat, fixed.matches, fixed.safe) == ('vpc', 'fixed', ('vpc', 'iso'), True)
    assert fixed.virtual_size == 40960


def test_fixed_vhd_without_declared_format():
    inspection = look(b'\0' * 40960 + vhd_footer())
    assert (inspection.format, inspection.subformat, inspection.safe) == ('vpc', 'fixed', True)
    assert 'format_mismatch' in codes(look(b'\0' * 40960 + vhd_footer(), claimed_format='raw'))


def test_gpt_yields_to_another_format_and_iso_to_nothing():
    mbr = bytearray(512)
    mbr[446:462] = struct.pack('<B3sB3sII', 0, b'\0\0\0', 0xEE, b'\0\0\0', 1, 100)
    mbr[510:512] = b'\x55\xaa'
    hybrid = look(iso_signature(bytes(mbr) + b'EFI PART'))
    assert hybrid.format == 'iso' and 'polyglot' not in codes(hybrid) and 'gpt' in hybrid.matches


def test_confirm_with_qemu():
    clean = look(qcow2_header())
    info = {'format': 'qcow2', 'virtual-size': 1024 * 1024, 'filename': 'x',
            'format-specific': {'type': 'qcow2', 'data': {'compat': '1.1', 'corrupt': False}}}
    assert clean.confirm_with_qemu(info) is clean and clean.safe
    assert codes(look(qcow2_header()).confirm_with_qemu(dict(info, **{'backing-filename': '/etc/shadow'}))) == [
        'qemu_disagrees']
    assert codes(look(qcow2_header()).confirm_with_qemu(dict(info, **{'virtual-size': 1}))) == ['qemu_disagrees']
    assert codes(look(qcow2_header()).confirm_with_qemu(dict(info, format='raw'))) == ['qemu_disagrees']
    data_file = dict(info, **{'format-specific': {'data': {'data-file': '/dev/sda'}}})
    assert codes(look(qcow2_header()).confirm_with_qemu([data_file])) == ['data_file']
    extents = {'format': 'qcow2', 'filename': 'x', 'format-specific': {'data': {'extents': [{'filename': '/etc/x'}]}}}
    assert codes(look(qcow2_header()).confirm_with_qemu(extents)) == ['extent_file']
    backed = look(qcow2_header(backing=b'base'), allow=['backing_file', 'backing_format_missing'])
    assert backed.confirm_with_qemu(dict(info, **{'backing-filename': 'base'})).safe
    assert 'qemu_disagrees' in codes(backed.confirm_with_qemu(info))


def test_inspect_refuses_what_is_not_a_file(tmp_path):
    with pytest.raises(InspectError) as excinfo:
        inspect(str(tmp_path))
    assert 'not a regular file' in excinfo.value.msg
    fifo = str(tmp_path / 'fifo')
    os.mkfifo(fifo)
    with pytest.raises(InspectError):
        inspect(fifo)


class FailingFile(io.BytesIO):
    def read(self, *args):
        raise OSError(5, 'Input/output error')


def test_read_errors_are_inspect_errors():
    with pytest.raises(InspectError) as excinfo:
        inspect_file(FailingFile(b'x' * 100), path='/dev/broken')
    assert 'Input/output error' in excinfo.value.msg and '/dev/broken' in excinfo.value.msg


def test_budget_bounds_every_read():
    source = _inspect._Source(io.BytesIO(b'\0' * 100), 100, budget=10)
    assert source.read(0, 8) == b'\0' * 8
    with pytest.raises(_inspect._Refused):
        source.read(0, 8)
    assert source.read(200, 8) == b'' and source.bytes_read == 8


# --- random bytes never crash the inspector -------------------------------

MAGICS = [b'', b'QFI\xfb\0\0\0\x03', b'QFI\xfb\0\0\0\x02', b'QFI\xfb\0\0\0\x01', b'QED\0', b'KDMV', b'COWD',
          b'# Disk DescriptorFile\n', b'version=1\n', b'vhdxfile', b'conectix', b'LUKS\xba\xbe\0\x01',
          b'LUKS\xba\xbe\0\x02', b'WithoutFreeSpace', b'WithouFreSpacExt', b'Bochs Virtual HD Image\0',
          _inspect._CLOOP_MAGIC]
TRAILERS = [b'', b'conectix', b'koly']


@settings(max_examples=400, deadline=None)
@given(magic=st.sampled_from(MAGICS), body=st.binary(max_size=4096), trailer=st.sampled_from(TRAILERS),
       pad=st.integers(0, 70000), claimed=st.sampled_from([None, 'raw', 'qcow2', 'vhd', 'iso']))
def test_random_bytes_get_a_verdict(magic, body, trailer, pad, claimed):
    data = magic + body + b'\0' * pad
    if trailer:
        data += trailer + body[:504].ljust(504, b'\0')
    inspection = inspect_file(io.BytesIO(data), claimed_format=claimed)
    assert inspection.format in _inspect.FORMATS
    assert all(reason.code in _inspect.REASON_CODES for reason in inspection.reasons)
    assert inspection.bytes_read <= _inspect.READ_BUDGET
    inspection.verdict()
    inspection.to_dict()


@settings(max_examples=200, deadline=None)
@given(fields=st.lists(st.integers(0, 2 ** 64 - 1), min_size=12, max_size=12), magic=st.sampled_from(MAGICS[1:]))
def test_random_header_fields_get_a_verdict(fields, magic):
    """Structured noise: plausible magic followed by random 32- and 64-bit fields."""
    body = b''.join(struct.pack('>Q' if index % 2 else '<I', value & (2 ** 64 - 1 if index % 2 else 2 ** 32 - 1))
                    for index, value in enumerate(fields))
    inspection = inspect_file(io.BytesIO((magic + body).ljust(70000, b'\0')))
    assert inspection.format in _inspect.FORMATS


def test_a_names_only_scan_reads_a_few_kib(tmp_path):
    base, overlay = str(tmp_path / 'base.raw'), str(tmp_path / 'overlay.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'raw', base, '1G'], check=True)
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', overlay], check=True)
    light = inspect(overlay, names_only=True)
    assert (light.backing_file, light.backing_format, light.backing_path) == ('base.raw', 'raw', base)
    assert light.bytes_read <= 8192 < inspect(overlay).bytes_read


@pytest.mark.parametrize('size', [1, 511, 512, 1000, 1024 * 1024 + 1, 3 * 1024 * 1024 - 7])
def test_a_raw_file_has_the_virtual_size_qemu_reports(tmp_path, size):
    path = tmp_path / 'odd.raw'
    with open(str(path), 'wb') as handle:
        handle.truncate(size)
    info = subprocess.run(['qemu-img', 'info', '-f', 'raw', '--output=json', str(path)], check=True,
                          stdout=subprocess.PIPE, text=True).stdout
    qemu_size = int(info.split('"virtual-size":')[1].split(',')[0])
    inspection = _inspect.inspect(str(path))
    assert inspection.virtual_size == qemu_size == _inspect.raw_virtual_size(size)
    assert inspection.virtual_size % 512 == 0 and 0 <= inspection.virtual_size - size < 512
