# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The inspector on real images (qemu-img, sfdisk, cryptsetup) and hand-patched hostile ones.

Where qemu-img 7.2 can read a file, its ``qemu-img info -f FORMAT`` is the
truth the inspector's format and virtual size are compared with.
"""

from __future__ import annotations

import io
import os
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.hypervisor.images.plugins.module_utils import _inspect
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils import image_corpus
from ansible_collections.hypervisor.images.tests.unit.plugins.module_utils.image_corpus import CASES, case_id

TOOLS = {'qemu-img': image_corpus.QEMU_IMG, 'sfdisk': image_corpus.SFDISK, 'cryptsetup': image_corpus.CRYPTSETUP}


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
    return image_corpus.Corpus(tmp_path_factory.mktemp('corpus'))


def build(corpus, item):
    for tool in set([item.needs, 'qemu-img' if item.qemu is not None else None]) - set([None]):
        if not TOOLS[tool]:
            pytest.skip('%s is not installed' % tool)
    return corpus.get(item.name)


def codes(inspection):
    return frozenset(reason.code for reason in inspection.reasons)


@pytest.mark.parametrize('item', CASES, ids=case_id)
def test_verdict(corpus, item):
    path = build(corpus, item)
    inspection = _inspect.inspect(path, claimed_format=item.claimed, allow=item.allow)
    assert (inspection.format, inspection.safe, codes(inspection)) == (item.fmt, item.safe, item.codes), \
        inspection.reasons
    assert inspection.verdict()['safe'] is item.safe
    assert all(reason.code in _inspect.REASON_CODES and reason.message for reason in inspection.reasons)
    assert inspection.bytes_read <= _inspect.READ_BUDGET


QEMU_CASES = [item for item in CASES if item.qemu is not None]


@pytest.mark.parametrize('item', QEMU_CASES, ids=case_id)
def test_qemu_img_agrees(corpus, item):
    """qemu-img info -f FORMAT opens what it should, and reports the same facts."""
    path = build(corpus, item)
    inspection = _inspect.inspect(path, allow=item.allow)
    opened, info = image_corpus.qemu_info(path, inspection.qemu_format)
    assert opened is item.qemu, info
    if not opened:
        # Whatever qemu refuses, the inspector refuses too (LUKS2 is only a format qemu 7.2 lacks).
        assert not inspection.safe or [note.code for note in inspection.notes] == ['luks2']
        return
    assert info['format'] == inspection.qemu_format
    if inspection.virtual_size is not None:
        assert info['virtual-size'] == inspection.virtual_size
    before = inspection.reasons
    inspection.confirm_with_qemu(info)
    assert 'qemu_disagrees' not in codes(inspection), inspection.reasons
    if item.safe:
        assert inspection.reasons == before


def test_the_zero_capacity_vmdk_really_reads_another_file(corpus):
    """The attack the extent check stops: qemu follows the embedded descriptor to a host file."""
    path = corpus.get('vmdk_zero_capacity')
    inspection = _inspect.inspect(path)
    _opened, info = image_corpus.qemu_info(path, 'vmdk')
    extents = [extent['filename'] for extent in info['format-specific']['data']['extents']]
    assert extents == [corpus.secret]
    assert 'extent_file' in codes(inspection)


def test_allowed_backing_chain_is_vetted_element_by_element(corpus):
    inspection = _inspect.inspect(corpus.get('qcow2_backing'), allow=['backing_file'])
    assert inspection.safe and not inspection.is_safe(allow=())
    assert (inspection.backing_file, inspection.backing_format) == ('base.raw', 'raw')
    assert inspection.backing_path == os.path.join(corpus.dir, 'base.raw')
    base = _inspect.inspect(inspection.backing_path, claimed_format=inspection.backing_format)
    assert base.safe and base.format == 'raw'


@pytest.fixture(scope='module')
def chain(corpus):
    """base.raw <- mid.qcow2 <- top.qcow2 in a directory of their own, named relatively."""
    directory = os.path.join(corpus.dir, 'chain')
    os.makedirs(directory)
    corpus.create(os.path.join(directory, 'base.raw'), 'raw')
    corpus.qemu_img('create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', os.path.join(directory, 'mid.qcow2'))
    corpus.qemu_img('create', '-q', '-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', os.path.join(directory, 'top.qcow2'))
    return directory


def chain_codes(inspections):
    return [sorted(codes(inspection)) for inspection in inspections]


def test_inspect_chain_follows_and_vets_every_element(chain):
    top = os.path.join(chain, 'top.qcow2')
    inspections = _inspect.inspect_chain(top, [chain], allow=['backing_file'])
    assert [inspection.format for inspection in inspections] == ['qcow2', 'qcow2', 'raw']
    assert [inspection.path for inspection in inspections] == [top, os.path.join(chain, 'mid.qcow2'),
                                                               os.path.join(chain, 'base.raw')]
    assert all(inspection.safe for inspection in inspections)
    # Without allow_backing_file nothing is followed and the top image is refused.
    alone = _inspect.inspect_chain(top, [chain])
    assert len(alone) == 1 and chain_codes(alone) == [['backing_file']] and not alone[0].safe


def test_inspect_chain_keeps_backing_files_inside_roots(corpus, chain):
    elsewhere = os.path.join(corpus.dir, 'elsewhere')
    os.makedirs(elsewhere, exist_ok=True)
    inspections = _inspect.inspect_chain(os.path.join(chain, 'top.qcow2'), [elsewhere], allow=['backing_file'])
    assert chain_codes(inspections) == [['backing_file', 'backing_outside']]
    host = _inspect.inspect_chain(corpus.get('qcow2_backing_host_path'), [chain], allow=['backing_file'])
    assert chain_codes(host) == [['backing_file', 'backing_outside']] and not host[0].safe
    # Without roots, a header naming a host file as a raw backing file passes: roots are the protection.
    assert [inspection.safe for inspection in _inspect.inspect_chain(
        corpus.get('qcow2_backing_host_path'), None, allow=['backing_file'])] == [True, True]


def test_inspect_chain_checks_the_declared_backing_format(corpus, chain):
    liar = os.path.join(chain, 'liar.qcow2')
    corpus.qemu_img('create', '-q', '-f', 'qcow2', '-u', '-b', 'base.raw', '-F', 'qcow2', liar, '1M')
    inspections = _inspect.inspect_chain(liar, [chain], allow=['backing_file'])
    assert chain_codes(inspections) == [['backing_file'], ['format_mismatch']]


def test_inspect_chain_refuses_loops_and_long_chains(corpus, chain):
    first, second = os.path.join(chain, 'loop-a.qcow2'), os.path.join(chain, 'loop-b.qcow2')
    corpus.qemu_img('create', '-q', '-f', 'qcow2', '-u', '-b', 'loop-b.qcow2', '-F', 'qcow2', first, '1M')
    corpus.qemu_img('create', '-q', '-f', 'qcow2', '-u', '-b', 'loop-a.qcow2', '-F', 'qcow2', second, '1M')
    loop = _inspect.inspect_chain(first, [chain], allow=['backing_file'])
    assert chain_codes(loop) == [['backing_file'], ['backing_chain', 'backing_file']]
    short = _inspect.inspect_chain(os.path.join(chain, 'top.qcow2'), [chain], allow=['backing_file'], max_depth=2)
    assert chain_codes(short) == [['backing_file'], ['backing_chain', 'backing_file']]


def test_inspect_chain_names_a_missing_backing_file(corpus, chain):
    orphan = os.path.join(chain, 'orphan.qcow2')
    corpus.qemu_img('create', '-q', '-f', 'qcow2', '-u', '-b', 'gone.raw', '-F', 'raw', orphan, '1M')
    with pytest.raises(_inspect.InspectError) as excinfo:
        _inspect.inspect_chain(orphan, [chain], allow=['backing_file'])
    assert 'orphan.qcow2 names backing file' in excinfo.value.msg and 'gone.raw' in excinfo.value.msg


def test_protocol_backing_names_are_in_the_reasons(corpus):
    for name, shown in (('qcow2_backing_json', 'json:'), ('qcow2_backing_nbd', 'nbd:127.0.0.1:10809')):
        inspection = _inspect.inspect(corpus.get(name), allow=['backing_file'])
        refused = inspection.refusals()
        assert [reason.code for reason in refused] == ['protocol_name']
        assert shown in refused[0].message
        assert inspection.backing_path is None


def test_vmdk_backing_format_is_implied(corpus):
    inspection = _inspect.inspect(corpus.get('vmdk_backing'), allow=['backing_file'])
    assert inspection.safe and inspection.backing_format == 'vmdk'


def test_details(corpus):
    extended = _inspect.inspect(corpus.get('qcow2_extended_l2'))
    assert extended.details['extended_l2'] and extended.details['cluster_size'] == 128 * 1024
    assert _inspect.inspect(corpus.get('qcow2_zstd')).details['compression_type'] == 'zstd'
    dirty = _inspect.inspect(corpus.get('qcow2_dirty'))
    assert [note.code for note in dirty.notes] == ['dirty']
    assert [note.code for note in _inspect.inspect(corpus.get('qcow2_unknown_extension')).notes] == [
        'unknown_header_extension']
    encrypted = _inspect.inspect(corpus.get('qcow2_encrypted'))
    assert encrypted.encrypted and encrypted.details['encryption'] == 'luks'
    assert _inspect.inspect(corpus.get('vhd_fixed')).subformat == 'fixed'
    assert _inspect.inspect(corpus.get('vmdk_stream')).subformat == 'streamOptimized'
    assert _inspect.inspect(corpus.get('iso')).details['volume_id'] == 'CORPUS'
    assert _inspect.inspect(corpus.get('qcow2_over_gpt')).matches == ('qcow2', 'gpt')
    polyglot = _inspect.inspect(corpus.get('iso_qcow2_polyglot'))
    assert polyglot.matches == ('qcow2', 'iso')


def test_fixed_vhd_is_not_read_as_raw(corpus):
    """qemu's own probe reads a fixed VHD as raw (footer included); the inspector names it."""
    path = corpus.get('vhd_fixed')
    assert _inspect.detect_format(path) == 'vpc'
    opened, info = image_corpus.qemu_info(path, 'raw')
    assert opened and info['virtual-size'] == os.path.getsize(path) == _inspect.inspect(path).virtual_size + 512


class CountingFile(io.FileIO):
    """A file object that counts the bytes read through it."""

    count = 0

    def read(self, size=-1):
        data = super(CountingFile, self).read(size)
        self.count += len(data)
        return data

    def readinto(self, buffer):
        read = super(CountingFile, self).readinto(buffer)
        self.count += read or 0
        return read


@pytest.mark.parametrize('name', ['qcow2_huge_l1', 'qcow2_huge_size_small_l1', 'vmdk_oversized_descriptor',
                                  'qcow2_one_exabyte', 'vhdx'])
def test_reads_and_memory_are_bounded(corpus, name):
    path = corpus.get(name)
    with CountingFile(path, 'rb') as handle:
        tracemalloc.start()
        try:
            inspection = _inspect.inspect_file(handle, path=path)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert handle.count == inspection.bytes_read
    assert handle.count <= 512 * 1024
    assert peak < 2 * 1024 * 1024
    if name != 'qcow2_one_exabyte' and name != 'vhdx':
        assert not inspection.safe


def test_a_two_mib_cluster_backing_name_stays_within_budget(corpus, tmp_path):
    """The extension area of a 2 MiB-cluster qcow2 is read in full only when the walk needs it."""
    path = str(tmp_path / 'wide')
    corpus.create(path, 'qcow2', '1M', 'cluster_size=2M')
    corpus.patch(path, 112, b'\x12\x34\x56\x78' + (2 * 1024 * 1024 - 200).to_bytes(4, 'big'))
    inspection = _inspect.inspect(path)
    assert inspection.safe and [note.code for note in inspection.notes] == ['unknown_header_extension']
    assert inspection.bytes_read < 200 * 1024


SEEDS = ['qcow2', 'qcow2_backing', 'qcow2_data_file', 'qcow', 'qed_backing', 'vmdk', 'vmdk_stream_footer',
         'vmdk_monolithic_flat', 'vhd_fixed', 'vhd_dynamic', 'vhdx', 'vdi', 'luks', 'iso', 'parallels', 'bochs', 'cloop']


@pytest.fixture(scope='module')
def seeds(corpus):
    if not image_corpus.QEMU_IMG:
        pytest.skip('qemu-img is not installed')
    images = []
    for name in SEEDS:
        with open(corpus.get(name), 'rb') as handle:
            images.append(handle.read())
    return images


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_real_headers_never_crash(seeds, data):
    image = bytearray(seeds[data.draw(st.integers(0, len(seeds) - 1), label='seed')])
    regions = [(0, 600), (0, 4096), (64 * 1024, 320 * 1024), (len(image) - 1536, len(image))]
    regions = [(max(0, start), min(end, len(image))) for start, end in regions if start < min(end, len(image))]
    for _flip in range(data.draw(st.integers(1, 12), label='flips')):
        start, end = data.draw(st.sampled_from(regions), label='region')
        image[data.draw(st.integers(start, end - 1), label='offset')] = data.draw(st.integers(0, 255), label='byte')
    if data.draw(st.booleans(), label='truncate'):
        del image[data.draw(st.integers(0, len(image)), label='at'):]
    inspection = _inspect.inspect_file(io.BytesIO(bytes(image)))
    assert inspection.format in _inspect.FORMATS
    assert all(reason.code in _inspect.REASON_CODES for reason in inspection.reasons)
    assert inspection.bytes_read <= _inspect.READ_BUDGET
