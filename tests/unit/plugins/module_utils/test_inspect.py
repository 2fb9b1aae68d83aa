# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import struct

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._inspect import (
    InspectError,
    detect_format,
    format_from_header,
)


@pytest.mark.parametrize('header, expected', [
    (b'QFI\xfb' + struct.pack('>I', 3) + b'\0' * 100, 'qcow2'),
    (b'QFI\xfb' + struct.pack('>I', 2) + b'\0' * 100, 'qcow2'),
    (b'QFI\xfb' + struct.pack('>I', 1) + b'\0' * 100, 'qcow'),
    (b'QFI\xfb', 'qcow'),
    (b'QED\x00' + b'\0' * 60, 'qed'),
    (b'KDMV' + b'\0' * 60, 'vmdk'),
    (b'# Disk DescriptorFile\nversion=1\n', 'vmdk'),
    (b'vhdxfile' + b'\0' * 60, 'vhdx'),
    (b'conectix' + b'\0' * 60, 'vpc'),
    (b'LUKS\xba\xbe\x00\x01', 'luks'),
    (b'WithoutFreeSpace' + b'\0' * 60, 'parallels'),
    (b'Bochs Virtual HD Image\0', 'bochs'),
    (b'<<< Oracle VM VirtualBox Disk Image >>>\n'.ljust(0x40, b'\0') + struct.pack('<I', 0xBEDA107F), 'vdi'),
    (b'', 'raw'),
    (b'\0' * 512, 'raw'),
    (b'\xeb\x63\x90' + b'\0' * 509, 'raw'),
    (b'QFI', 'raw'),
])
def test_format_from_header(header, expected):
    assert format_from_header(header) == expected


def test_detect_format_reads_the_file(tmp_path):
    image = tmp_path / 'disk'
    image.write_bytes(b'QFI\xfb\x00\x00\x00\x03' + b'\0' * 1000)
    assert detect_format(str(image)) == 'qcow2'
    image.write_bytes(b'hello')
    assert detect_format(str(image)) == 'raw'


def test_detect_format_missing_file(tmp_path):
    with pytest.raises(InspectError) as excinfo:
        detect_format(str(tmp_path / 'nope'))
    assert 'nope' in excinfo.value.msg
