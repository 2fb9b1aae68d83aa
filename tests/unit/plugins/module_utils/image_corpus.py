# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The image inspector's test corpus, built at test time in a temporary directory.

Real images come from qemu-img (and sfdisk, cryptsetup); hostile ones are real
images with hand-patched headers. Nothing binary is committed. Every entry of
``CASES`` names a builder method of :class:`Corpus` and what the inspector must
say about the file: its format, whether it is safe, and the exact set of reason
codes. ``qemu`` says what ``qemu-img info -f FORMAT`` does with the file: None
when not asked, True when it opens it, False when it refuses it.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import struct
import subprocess
import zlib

MiB = 1024 * 1024

QEMU_IMG = shutil.which('qemu-img')
SFDISK = shutil.which('sfdisk') or (os.path.exists('/usr/sbin/sfdisk') and '/usr/sbin/sfdisk') or None
CRYPTSETUP = shutil.which('cryptsetup') or (os.path.exists('/usr/sbin/cryptsetup') and '/usr/sbin/cryptsetup') or None

Case = collections.namedtuple('Case', 'name fmt safe codes claimed allow qemu needs')


def case(name, fmt, safe, codes=(), claimed=None, allow=(), qemu=None, needs='qemu-img'):
    return Case(name, fmt, safe, frozenset(codes), claimed, tuple(allow), qemu, needs)


CASES = [
    # qcow2
    case('qcow2', 'qcow2', True, qemu=True),
    case('qcow2_v2', 'qcow2', True, qemu=True),
    case('qcow2_extended_l2', 'qcow2', True, qemu=True),
    case('qcow2_zstd', 'qcow2', True, qemu=True),
    case('qcow2_lazy_refcounts', 'qcow2', True, qemu=True),
    case('qcow2_encrypted', 'qcow2', True, qemu=True),
    case('qcow2_encrypted_without_header', 'qcow2', False, ['malformed'], qemu=False),
    case('qcow2_dirty', 'qcow2', True, qemu=True),
    case('qcow2_corrupt', 'qcow2', False, ['corrupt'], qemu=True),
    case('qcow2_corrupt', 'qcow2', True, ['corrupt'], allow=['corrupt']),
    case('qcow2_backing', 'qcow2', False, ['backing_file'], qemu=True),
    case('qcow2_backing', 'qcow2', True, ['backing_file'], allow=['backing_file']),
    case('qcow2_backing_host_path', 'qcow2', False, ['backing_file'], qemu=True),
    case('qcow2_backing_json', 'qcow2', False, ['backing_file', 'protocol_name'], allow=['backing_file'], qemu=True),
    case('qcow2_backing_nbd', 'qcow2', False, ['backing_file', 'protocol_name'], allow=['backing_file'], qemu=True),
    case('qcow2_backing_file_protocol', 'qcow2', False, ['backing_file', 'protocol_name'], allow=['backing_file']),
    case('qcow2_backing_no_format', 'qcow2', False, ['backing_file', 'backing_format_missing'],
         allow=['backing_file'], qemu=True),
    case('qcow2_backing_format_nbd', 'qcow2', False, ['backing_file', 'unsafe_backing_format'],
         allow=['backing_file'], qemu=True),
    case('qcow2_data_file', 'qcow2', False, ['data_file'], allow=['backing_file'], qemu=True),
    case('qcow2_data_file_bit_only', 'qcow2', False, ['data_file'], qemu=True),
    case('qcow2_data_file_extension_only', 'qcow2', False, ['data_file'], qemu=True),
    case('qcow2_unknown_feature', 'qcow2', False, ['unknown_feature'], qemu=False),
    case('qcow2_unknown_compression', 'qcow2', False, ['unknown_feature'], qemu=False),
    case('qcow2_unknown_extension', 'qcow2', True, qemu=True),
    case('qcow2_duplicate_backing_format', 'qcow2', False, ['backing_file', 'malformed'], allow=['backing_file'],
         qemu=True),
    case('qcow2_extension_overrun', 'qcow2', False, ['malformed'], qemu=False),
    case('qcow2_version_1', 'qcow', False, ['obsolete_format'], qemu=False),
    case('qcow2_version_4', 'qcow2', False, ['bad_version'], qemu=False),
    case('qcow2_huge_l1', 'qcow2', False, ['oversized_metadata'], qemu=False),
    case('qcow2_huge_size_small_l1', 'qcow2', False, ['malformed'], qemu=False),
    case('qcow2_one_exabyte', 'qcow2', True, qemu=True),
    case('qcow2_bad_cluster_bits', 'qcow2', False, ['malformed'], qemu=False),
    case('qcow2_declared_raw', 'qcow2', False, ['format_mismatch'], claimed='raw'),
    case('qcow2_over_gpt', 'qcow2', True, qemu=True),
    # obsolete formats
    case('qcow', 'qcow', False, ['obsolete_format'], qemu=True),
    case('qed', 'qed', False, ['obsolete_format'], qemu=True),
    case('qed_backing', 'qed', False, ['obsolete_format', 'backing_file'], qemu=True),
    # vmdk
    case('vmdk', 'vmdk', True, qemu=True),
    case('vmdk_stream', 'vmdk', True, qemu=True),
    case('vmdk_stream_footer', 'vmdk', True, qemu=True),
    case('vmdk_stream_footer_disagrees', 'vmdk', False, ['malformed'], qemu=True),
    case('vmdk_stream_footer_missing', 'vmdk', False, ['malformed'], qemu=False),
    case('vmdk_backing', 'vmdk', False, ['backing_file'], qemu=True),
    case('vmdk_monolithic_flat', 'vmdk', False, ['create_type', 'extent_file'], qemu=True),
    case('vmdk_two_gb_flat', 'vmdk', False, ['create_type', 'extent_file'], qemu=True),
    case('vmdk_two_gb_sparse', 'vmdk', False, ['create_type', 'extent_file'], qemu=True),
    case('vmdk_absolute_extent', 'vmdk', False, ['create_type', 'extent_file'], qemu=True),
    case('vmdk_relative_extent', 'vmdk', False, ['create_type', 'extent_file'], qemu=True),
    case('vmdk_protocol_extent', 'vmdk', False, ['create_type', 'extent_file', 'protocol_name']),
    case('vmdk_sparse_type_flat_extent', 'vmdk', False, ['extent_type', 'extent_file'], qemu=False),
    case('vmdk_embedded_flat_extent', 'vmdk', False, ['extent_type', 'extent_file'], qemu=True),
    case('vmdk_zero_capacity', 'vmdk', False, ['create_type', 'extent_file'], qemu=True),
    case('vmdk_oversized_descriptor', 'vmdk', False, ['descriptor_too_large']),
    case('vmdk_version_line', 'vmdk', False, ['format_mismatch', 'malformed'], claimed='raw'),
    # vhd, vhdx, vdi
    case('vhd_fixed', 'vpc', True, qemu=True),
    case('vhd_fixed', 'vpc', False, ['format_mismatch'], claimed='raw'),
    case('vhd_fixed', 'vpc', True, claimed='vhd'),
    case('vhd_dynamic', 'vpc', True, qemu=True),
    case('vhd_differencing', 'vpc', False, ['unsupported'], qemu=True),
    case('vhdx', 'vhdx', True, qemu=True),
    case('vhdx_unknown_required_region', 'vhdx', False, ['unknown_feature'], qemu=False),
    case('vdi', 'vdi', True, qemu=True),
    case('vdi_static', 'vdi', True, qemu=True),
    # luks
    case('luks', 'luks', True, qemu=True),
    case('luks2', 'luks', True, qemu=False, needs='cryptsetup'),
    # raw family
    case('iso', 'iso', True, qemu=True, needs=None),
    case('iso', 'iso', True, claimed='raw', needs=None),
    case('iso', 'iso', True, claimed='iso', needs=None),
    case('iso_qcow2_polyglot', 'qcow2', False, ['polyglot'], qemu=True),
    case('gpt', 'gpt', True, qemu=True, needs='sfdisk'),
    case('gpt', 'gpt', True, claimed='raw', needs='sfdisk'),
    case('gpt_bad_crc', 'gpt', False, ['partition_table'], needs='sfdisk'),
    case('gpt_bad_crc', 'gpt', True, ['partition_table'], allow=['partition_table'], needs='sfdisk'),
    case('mbr', 'mbr', True, qemu=True, needs='sfdisk'),
    case('random', 'raw', True, qemu=True, needs=None),
    case('random', 'raw', False, ['format_mismatch'], claimed='qcow2', needs=None),
    case('zeros', 'raw', True, qemu=True, needs=None),
    # other qemu formats
    case('parallels', 'parallels', True, qemu=True),
    case('bochs', 'bochs', True, qemu=True, needs=None),
    case('cloop', 'cloop', True, qemu=True, needs=None),
    case('dmg_trailer', 'dmg', True, needs=None),
]


#: corpus entries that are one qemu-img create: format, size and -o options
CREATES = {
    'qcow2': ('qcow2',),
    'qcow2_v2': ('qcow2', '1M', 'compat=0.10'),
    'qcow2_extended_l2': ('qcow2', '1M', 'extended_l2=on,cluster_size=128k'),
    'qcow2_zstd': ('qcow2', '1M', 'compression_type=zstd'),
    'qcow2_lazy_refcounts': ('qcow2', '1M', 'lazy_refcounts=on'),
    'qcow2_data_file': ('qcow2', '1M', 'data_file=qcow2_data_file.data'),
    'qcow2_one_exabyte': ('qcow2', '1E', 'cluster_size=2M'),
    'qcow2_declared_raw': ('qcow2',),
    'qcow': ('qcow',),
    'qed': ('qed',),
    'vmdk': ('vmdk',),
    'vmdk_stream': ('vmdk', '1M', 'subformat=streamOptimized'),
    'vmdk_monolithic_flat': ('vmdk', '1M', 'subformat=monolithicFlat'),
    'vmdk_two_gb_flat': ('vmdk', '1M', 'subformat=twoGbMaxExtentFlat'),
    'vmdk_two_gb_sparse': ('vmdk', '1M', 'subformat=twoGbMaxExtentSparse'),
    'vhd_fixed': ('vpc', '1M', 'subformat=fixed'),
    'vhd_dynamic': ('vpc', '1M', 'subformat=dynamic'),
    'vhdx': ('vhdx',),
    'vdi': ('vdi',),
    'vdi_static': ('vdi', '1M', 'static=on'),
    'parallels': ('parallels',),
}


def case_id(item):
    extra = ''
    if item.claimed:
        extra += '-as-' + item.claimed
    if item.allow:
        extra += '-allow-' + '+'.join(item.allow)
    return item.name + extra


class Corpus(object):
    """Builds corpus files on demand in ``directory``, each once."""

    def __init__(self, directory):
        self.dir = str(directory)
        self.built = {}
        self.secret = self.write('secret', b'host data that must never reach an image\n' * 100)

    def path(self, name):
        return os.path.join(self.dir, name)

    def get(self, name):
        if name not in self.built:
            if name in CREATES:
                self.built[name] = self.create(self.path(name), *CREATES[name])
            else:
                self.built[name] = getattr(self, 'build_' + name)(self.path(name))
        return self.built[name]

    # tools
    def write(self, name, data):
        path = self.path(name)
        with open(path, 'wb') as handle:
            handle.write(data)
        return path

    def qemu_img(self, *args):
        # qemu times its LUKS key derivation by the CPU time it used; on a busy machine the measurement
        # can come out empty ("Unable to get accurate CPU usage"), and a second try succeeds.
        for dummy in range(5):
            result = subprocess.run([QEMU_IMG] + list(args), capture_output=True, cwd=self.dir, check=False)
            if result.returncode == 0 or b'Unable to get accurate CPU usage' not in result.stderr:
                break
        result.check_returncode()

    def create(self, path, fmt, size='1M', *options):
        argv = ['create', '-q', '-f', fmt]
        for option in options:
            argv.extend(['-o', option])
        self.qemu_img(*(argv + [path, size]))
        return path

    def patch(self, path, offset, data):
        with open(path, 'r+b') as handle:
            handle.seek(offset)
            handle.write(data)
        return path

    def qcow2_rewrite(self, path, extensions, backing=None):
        """Replace the header extensions (and the backing file name) of a version 3 qcow2 image."""
        area = b''
        for kind, data in extensions:
            area += struct.pack('>II', kind, len(data)) + data + b'\0' * (-len(data) % 8)
        area += b'\0' * 8
        self.patch(path, 112, area)
        if backing is None:
            return self.patch(path, 8, struct.pack('>QI', 0, 0))
        name = backing.encode()
        self.patch(path, 112 + len(area), name)
        return self.patch(path, 8, struct.pack('>QI', 112 + len(area), len(name)))

    def qcow2_flags(self, path, incompatible=0, compression=None):
        with open(path, 'rb') as handle:
            current = struct.unpack('>Q', handle.read(80)[72:80])[0]
        self.patch(path, 72, struct.pack('>Q', current | incompatible))
        if compression is not None:
            self.patch(path, 104, struct.pack('B', compression))
        return path

    # qcow2
    def build_qcow2_encrypted(self, path):
        self.qemu_img('create', '-q', '-f', 'qcow2', '--object', 'secret,id=sec0,data=secret',
                      '-o', 'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10', path, '1M')
        return path

    def build_qcow2_encrypted_without_header(self, path):
        """The encrypted image with its encryption header extension renamed: qemu-img 7.2 crashes on it."""
        shutil.copyfile(self.get('qcow2_encrypted'), path)
        with open(path, 'rb') as handle:
            header = handle.read(4096)
        offset = struct.unpack('>I', header[100:104])[0]
        while header[offset:offset + 4] != b'\x05\x37\xbe\x77':
            offset += 8 + (struct.unpack('>I', header[offset + 4:offset + 8])[0] + 7) // 8 * 8
        return self.patch(path, offset, b'\x11\x11\x22\x22')

    def build_qcow2_dirty(self, path):
        return self.qcow2_flags(self.create(path, 'qcow2'), incompatible=1)

    def build_qcow2_corrupt(self, path):
        return self.qcow2_flags(self.create(path, 'qcow2'), incompatible=2)

    def build_qcow2_backing(self, path):
        base = self.create(self.path('base.raw'), 'raw')
        self.qemu_img('create', '-q', '-f', 'qcow2', '-b', os.path.basename(base), '-F', 'raw', path)
        return path

    def unsafe_backing(self, path, name, fmt='raw'):
        self.qemu_img('create', '-q', '-f', 'qcow2', '-u', '-b', name, '-F', fmt, path, '1M')
        return path

    def build_qcow2_backing_host_path(self, path):
        return self.unsafe_backing(path, self.secret)

    def build_qcow2_backing_json(self, path):
        return self.unsafe_backing(path, 'json:{"driver": "raw", "file": {"driver": "file", "filename": "%s"}}'
                                   % self.secret)

    def build_qcow2_backing_nbd(self, path):
        return self.unsafe_backing(path, 'nbd:127.0.0.1:10809')

    def build_qcow2_backing_file_protocol(self, path):
        return self.qcow2_rewrite(self.create(path, 'qcow2'), [(0xE2792ACA, b'raw')], backing='file:secret')

    def build_qcow2_backing_no_format(self, path):
        return self.qcow2_rewrite(self.create(path, 'qcow2'), [], backing='secret')

    def build_qcow2_backing_format_nbd(self, path):
        return self.qcow2_rewrite(self.create(path, 'qcow2'), [(0xE2792ACA, b'nbd')], backing='secret')

    def build_qcow2_data_file_bit_only(self, path):
        return self.qcow2_flags(self.create(path, 'qcow2'), incompatible=4)

    def build_qcow2_data_file_extension_only(self, path):
        return self.qcow2_rewrite(self.create(path, 'qcow2'), [(0x44415441, self.secret.encode())])

    def build_qcow2_unknown_feature(self, path):
        return self.qcow2_flags(self.create(path, 'qcow2'), incompatible=1 << 5 | 1 << 63)

    def build_qcow2_unknown_compression(self, path):
        return self.qcow2_flags(self.create(path, 'qcow2'), incompatible=8, compression=7)

    def build_qcow2_unknown_extension(self, path):
        return self.qcow2_rewrite(self.create(path, 'qcow2'), [(0x12345678, b'optional')])

    def build_qcow2_duplicate_backing_format(self, path):
        return self.qcow2_rewrite(self.create(path, 'qcow2'), [(0xE2792ACA, b'raw'), (0xE2792ACA, b'qcow2')],
                                  backing='base.raw')

    def build_qcow2_extension_overrun(self, path):
        return self.patch(self.create(path, 'qcow2'), 112, struct.pack('>II', 0x12345678, 1 << 20))

    def build_qcow2_version_1(self, path):
        return self.patch(self.create(path, 'qcow2'), 4, struct.pack('>I', 1))

    def build_qcow2_version_4(self, path):
        return self.patch(self.create(path, 'qcow2'), 4, struct.pack('>I', 4))

    def build_qcow2_huge_l1(self, path):
        return self.patch(self.create(path, 'qcow2'), 36, struct.pack('>I', 0x7FFFFFFF))

    def build_qcow2_huge_size_small_l1(self, path):
        return self.patch(self.create(path, 'qcow2'), 24, struct.pack('>Q', 1 << 62))

    def build_qcow2_bad_cluster_bits(self, path):
        return self.patch(self.create(path, 'qcow2'), 20, struct.pack('>I', 30))

    def build_qcow2_over_gpt(self, path):
        """A qcow2 whose first cluster also carries a protective MBR and a GPT header: qemu reads qcow2."""
        gpt = self.get('gpt')
        with open(gpt, 'rb') as handle:
            sectors = handle.read(1024)
        self.create(path, 'qcow2')
        return self.patch(path, 446, sectors[446:1024])

    # obsolete formats
    def build_qed_backing(self, path):
        base = self.create(self.path('qed-base.raw'), 'raw')
        self.qemu_img('create', '-q', '-f', 'qed', '-b', os.path.basename(base), '-F', 'raw', path)
        return path

    # vmdk
    def stream_with_footer(self, path, capacity_delta=0, footer=True):
        """A streamOptimized VMDK whose header defers the grain directory to a footer, as VMware writes it."""
        self.create(path, 'vmdk', '1M', 'subformat=streamOptimized')
        with open(path, 'rb') as handle:
            data = bytearray(handle.read())
        header = bytes(data[:512])
        data[56:64] = struct.pack('<Q', 0xFFFFFFFFFFFFFFFF)
        data += b'\0' * (-len(data) % 512)
        if footer:
            footer_header = bytearray(header)
            capacity = struct.unpack('<Q', header[12:20])[0] + capacity_delta
            footer_header[12:20] = struct.pack('<Q', capacity)
            data += struct.pack('<QII', 1, 0, 3).ljust(512, b'\0')
            data += bytes(footer_header)
            data += b'\0' * 512
        with open(path, 'wb') as handle:
            handle.write(data)
        return path

    def build_vmdk_stream_footer(self, path):
        return self.stream_with_footer(path)

    def build_vmdk_stream_footer_disagrees(self, path):
        return self.stream_with_footer(path, capacity_delta=2048)

    def build_vmdk_stream_footer_missing(self, path):
        return self.stream_with_footer(path, footer=False)

    def build_vmdk_backing(self, path):
        base = self.create(self.path('base.vmdk'), 'vmdk')
        self.qemu_img('create', '-q', '-f', 'vmdk', '-b', os.path.basename(base), '-F', 'vmdk', path)
        return path

    def descriptor(self, path, create_type, extents):
        lines = ['# Disk DescriptorFile', 'version=1', 'CID=12345678', 'parentCID=ffffffff',
                 'createType="%s"' % create_type, '', '# Extent description'] + extents + [
            '', '# The Disk Data Base', '#DDB', '', 'ddb.virtualHWVersion = "4"', '']
        with open(path, 'w') as handle:
            handle.write('\n'.join(lines))
        return path

    def build_vmdk_absolute_extent(self, path):
        return self.descriptor(path, 'monolithicFlat', ['RW 2 FLAT "%s" 0' % self.secret])

    def build_vmdk_relative_extent(self, path):
        os.makedirs(self.path('sub'), exist_ok=True)
        path = os.path.join(self.path('sub'), os.path.basename(path))
        return self.descriptor(path, 'monolithicFlat', ['RW 2 FLAT "../secret" 0'])

    def build_vmdk_protocol_extent(self, path):
        return self.descriptor(path, 'monolithicFlat', ['RW 2 FLAT "nbd:127.0.0.1:10809" 0'])

    def build_vmdk_sparse_type_flat_extent(self, path):
        return self.descriptor(path, 'monolithicSparse', ['RW 2 FLAT "secret" 0'])

    def embedded_descriptor(self, path, transform, capacity=None):
        self.create(path, 'vmdk')
        with open(path, 'rb') as handle:
            data = handle.read(512 + 20 * 512)
        text = data[512:].split(b'\0', 1)[0].decode()
        text = transform(text)
        self.patch(path, 512, text.encode().ljust(20 * 512, b'\0'))
        if capacity is not None:
            self.patch(path, 12, struct.pack('<Q', capacity))
        return path

    def build_vmdk_embedded_flat_extent(self, path):
        return self.embedded_descriptor(path, lambda text: text.replace(
            '# Extent description\n', '# Extent description\nRW 2 FLAT "secret" 0\n'))

    def build_vmdk_zero_capacity(self, path):
        name = os.path.basename(path)
        return self.embedded_descriptor(path, lambda text: text.replace(
            'SPARSE "%s"' % name, 'FLAT "secret" 0').replace('monolithicSparse', 'monolithicFlat'), capacity=0)

    def build_vmdk_oversized_descriptor(self, path):
        body = b'# Disk DescriptorFile\nversion=1\ncreateType="monolithicSparse"\n'
        return self.write(os.path.basename(path), body + b'#' * (2 * MiB - len(body)))

    def build_vmdk_version_line(self, path):
        """Raw data whose first sector says version=1: qemu would probe it as a VMDK descriptor."""
        return self.write(os.path.basename(path), b'version=1\n' + b'\0' * (MiB - 10))

    # vhd, vhdx, vdi
    def build_vhd_differencing(self, path):
        self.create(path, 'vpc', '1M', 'subformat=dynamic')
        with open(path, 'rb') as handle:
            data = bytearray(handle.read())
        for offset in (0, len(data) - 512):
            data[offset + 60:offset + 68] = struct.pack('>II', 4, 0)
            data[offset + 64:offset + 68] = struct.pack('>I', ~sum(data[offset:offset + 512]) & 0xFFFFFFFF)
        with open(path, 'wb') as handle:
            handle.write(data)
        return path

    def build_vhdx_unknown_required_region(self, path):
        """A VHDX whose region table lists an unknown region marked required."""
        from ansible_collections.hypervisor.images.plugins.module_utils._inspect import _crc32c
        self.create(path, 'vhdx')
        with open(path, 'rb') as handle:
            handle.seek(192 * 1024)
            table = bytearray(handle.read(64 * 1024))
        count = struct.unpack('<I', table[8:12])[0]
        entry = 16 + 32 * count
        table[entry:entry + 32] = b'\x11' * 16 + struct.pack('<QII', 8 * MiB, MiB, 1)
        table[8:12] = struct.pack('<I', count + 1)
        table[4:8] = b'\0\0\0\0'
        table[4:8] = struct.pack('<I', _crc32c(bytes(table)))
        return self.patch(path, 192 * 1024, bytes(table))

    # luks
    def cryptsetup(self, path, kind, size):
        key = self.write('luks.key', b'secret')
        with open(path, 'wb') as handle:
            handle.truncate(size)
        subprocess.run([CRYPTSETUP, 'luksFormat', '--type', kind, '-q', '--pbkdf', 'pbkdf2',
                        '--pbkdf-force-iterations', '1000', '--key-file', key, path], check=True, capture_output=True)
        return path

    def build_luks(self, path):
        if CRYPTSETUP:
            # qemu-img calibrates PBKDF2 for seconds; cryptsetup takes a fixed iteration count
            return self.cryptsetup(path, 'luks1', 4 * MiB)
        self.qemu_img('create', '-q', '-f', 'luks', '--object', 'secret,id=sec0,data=secret',
                      '-o', 'key-secret=sec0,iter-time=10', path, '1M')
        return path

    def build_luks2(self, path):
        return self.cryptsetup(path, 'luks2', 20 * MiB)

    # raw family
    def iso_image(self, system_area=b''):
        """A minimal ISO 9660 image: a primary volume descriptor and a terminator."""
        blocks = 20
        pvd = bytearray(2048)
        pvd[0:7] = b'\x01CD001\x01'
        pvd[8:40] = b'LINUX'.ljust(32)
        pvd[40:72] = b'CORPUS'.ljust(32)
        pvd[80:88] = struct.pack('<I', blocks) + struct.pack('>I', blocks)
        pvd[120:124] = struct.pack('<H', 1) + struct.pack('>H', 1)
        pvd[124:128] = struct.pack('<H', 1) + struct.pack('>H', 1)
        pvd[128:132] = struct.pack('<H', 2048) + struct.pack('>H', 2048)
        root = bytearray(34)
        root[0] = 34
        root[2:10] = struct.pack('<I', 18) + struct.pack('>I', 18)
        root[10:18] = struct.pack('<I', 2048) + struct.pack('>I', 2048)
        root[25] = 2
        root[28:32] = struct.pack('<H', 1) + struct.pack('>H', 1)
        root[32] = 1
        pvd[156:190] = root
        pvd[881] = 1
        terminator = b'\xffCD001\x01'.ljust(2048, b'\0')
        return system_area.ljust(32768, b'\0') + bytes(pvd) + terminator + b'\0' * (blocks - 18) * 2048

    def build_iso(self, path):
        return self.write(os.path.basename(path), self.iso_image())

    def build_iso_qcow2_polyglot(self, path):
        """A real qcow2 image that is also an ISO 9660 volume (its descriptors sit in the header cluster)."""
        self.create(path, 'qcow2')
        iso = self.iso_image()
        return self.patch(path, 32768, iso[32768:32768 + 4096])

    def sfdisk(self, path, label):
        with open(path, 'wb') as handle:
            handle.truncate(2 * MiB)
        subprocess.run([SFDISK, '-q', path], input=('label: %s\n,\n' % label).encode(), check=True,
                       capture_output=True)
        return path

    def build_gpt(self, path):
        return self.sfdisk(path, 'gpt')

    def build_gpt_bad_crc(self, path):
        self.sfdisk(path, 'gpt')
        return self.patch(path, 512 + 16, b'\0\0\0\0')

    def build_mbr(self, path):
        return self.sfdisk(path, 'dos')

    def build_random(self, path):
        return self.write(os.path.basename(path), os.urandom(MiB))

    def build_zeros(self, path):
        return self.write(os.path.basename(path), b'\0' * MiB)

    # other qemu formats
    def build_bochs(self, path):
        """A bochs growing redolog of 1 MiB: 2 extents of 512 KiB, none allocated."""
        header = bytearray(512)
        header[0:32] = b'Bochs Virtual HD Image'.ljust(32, b'\0')
        header[32:48] = b'Redolog'.ljust(16, b'\0')
        header[48:64] = b'Growing'.ljust(16, b'\0')
        header[64:72] = struct.pack('<II', 0x20000, 512)
        header[72:96] = struct.pack('<IIIIQ', 2, 128, 512 * 1024, 0, MiB)
        return self.write(os.path.basename(path), bytes(header) + b'\xff' * 8)

    def build_cloop(self, path):
        """A cloop image of 2 blocks of 64 KiB (qemu reads the offsets table at open)."""
        from ansible_collections.hypervisor.images.plugins.module_utils._inspect import _CLOOP_MAGIC
        header = _CLOOP_MAGIC.ljust(128, b'\0') + struct.pack('>II', 64 * 1024, 2)
        data_start = len(header) + 3 * 8
        chunk = zlib.compress(b'\0' * 64 * 1024)
        offsets = struct.pack('>QQQ', data_start, data_start + len(chunk), data_start + 2 * len(chunk))
        return self.write(os.path.basename(path), header + offsets + chunk + chunk)

    def build_dmg_trailer(self, path):
        koly = bytearray(512)
        koly[0:12] = b'koly' + struct.pack('>II', 4, 512)
        koly[492:500] = struct.pack('>Q', 2048)
        return self.write(os.path.basename(path), b'\0' * MiB + bytes(koly))


def qemu_info(path, fmt):
    """``qemu-img info -f FMT --output=json`` of ``path``: (True, dict) or (False, stderr)."""
    result = subprocess.run([QEMU_IMG, 'info', '-U', '-f', fmt, '--output=json', '--', path],
                            capture_output=True, text=True, check=False)
    if result.returncode:
        return False, result.stderr
    return True, json.loads(result.stdout)
