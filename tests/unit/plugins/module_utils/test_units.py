# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.hypervisor.images.plugins.module_utils._units import (
    MULTIPLIERS,
    SizeError,
    format_size,
    human_and_bytes,
    human_size,
    parse_size,
)


@pytest.mark.parametrize('value, expected', [
    (0, 0),
    (512, 512),
    ('512', 512),
    ('  512  ', 512),
    ('512B', 512),
    ('512b', 512),
    ('10K', 10 * 1024),
    ('10k', 10 * 1024),
    ('10M', 10 * 1024 ** 2),
    ('10MB', 10 * 1024 ** 2),
    ('10MiB', 10 * 1024 ** 2),
    ('10mib', 10 * 1024 ** 2),
    ('10mb', 10 * 1024 ** 2),
    ('1.5G', 3 * 1024 ** 3 // 2),
    ('1.5g', 3 * 1024 ** 3 // 2),
    ('2T', 2 * 1024 ** 4),
    ('2TiB', 2 * 1024 ** 4),
    ('1P', 1024 ** 5),
    ('1E', 1024 ** 6),
    ('0.5K', 512),
    ('007', 7),
])
def test_parse_size_accepts(value, expected):
    assert parse_size(value) == expected


@pytest.mark.parametrize('value, fragment', [
    ('', 'empty'),
    ('   ', 'empty'),
    ('-1', "'-1'"),
    (-1, 'negative'),
    ('10X', "'10X'"),
    ('1e3', "'1e3'"),
    ('10 M', "'10 M'"),
    ('1 0', "'1 0'"),
    ('M', "'M'"),
    ('1.5', 'whole number'),
    ('0.1K', 'whole number'),
    ('1.', "'1.'"),
    ('.5G', "'.5G'"),
    ('10KiBB', "'10KiBB'"),
    ('10iB', "'10iB'"),
    ('+10', "'+10'"),
    ('0x10', "'0x10'"),
    (True, 'boolean'),
    ([1], 'list'),
    (1.5, 'whole'),
])
def test_parse_size_rejects_with_value_and_forms(value, fragment):
    with pytest.raises(SizeError) as excinfo:
        parse_size(value, 'size')
    message = str(excinfo.value)
    assert fragment in message
    assert message.startswith('size: ')
    assert '10M, 10MB, 10MiB' in message


@given(st.integers(min_value=0, max_value=2 ** 70))
def test_format_size_round_trips(num_bytes):
    text = format_size(num_bytes)
    assert parse_size(text) == num_bytes
    assert len(text) <= len(str(num_bytes))


@given(st.integers(min_value=0, max_value=10 ** 6), st.sampled_from(sorted(MULTIPLIERS)),
       st.sampled_from(['', 'B', 'iB']), st.booleans())
def test_unit_forms_agree(number, unit, suffix, lower):
    if not unit and suffix == 'iB':
        suffix = ''
    text = '%d%s%s' % (number, unit, suffix)
    if lower:
        text = text.lower()
    assert parse_size(text) == number * MULTIPLIERS[unit]


@given(st.integers(min_value=0, max_value=2 ** 62))
def test_plain_integer_strings_round_trip(num_bytes):
    assert parse_size(str(num_bytes)) == num_bytes
    assert parse_size(num_bytes) == num_bytes


def test_format_size_uses_largest_exact_unit():
    assert format_size(10 * 1024 ** 3) == '10G'
    assert format_size(1536 * 1024) == '1536K'
    assert format_size(513) == '513'
    assert format_size(0) == '0'


def test_human_size():
    assert human_size(512) == '512 bytes'
    assert human_size(1536) == '1.5 KiB'
    assert human_size(10 * 1024 ** 3) == '10.0 GiB'
    assert human_size(-2048) == '-2.0 KiB'
    assert human_and_bytes(3 * 1024 ** 2) == '3.0 MiB (3145728 bytes)'
    assert human_and_bytes(100) == '100 bytes'
