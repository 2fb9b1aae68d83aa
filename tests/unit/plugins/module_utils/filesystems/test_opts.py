# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The opts parameter: split as a shell would, and read as the tools read it."""

from __future__ import annotations

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.opts import opts_value, split_opts

UUID = '0b7e0ef0-1a51-4c47-9d4e-6c1d0a3e4b2f'


@pytest.mark.parametrize('opts, args', [
    (None, []),
    ('', []),
    ('-m 1 -E lazy_itable_init=0', ['-m', '1', '-E', 'lazy_itable_init=0']),
    ("-O 'a b' \"c d\"", ['-O', 'a b', 'c d']),
    (['-m', 1, '-q'], ['-m', '1', '-q']),
])
def test_split_opts(opts, args):
    assert split_opts(opts) == args


@pytest.mark.parametrize('opts', ['-O "unclosed', [['nested']], [None], [True], {'a': 1}, 5])
def test_split_opts_refuses(opts):
    with pytest.raises(ValueError):
        split_opts(opts)


@pytest.mark.parametrize('args, flags, value', [
    (['-L', 'x'], ('-L',), 'x'),
    (['-Lx'], ('-L',), 'x'),
    (['--label=x'], ('-L', '--label'), 'x'),
    (['--label', 'x'], ('-L', '--label'), 'x'),
    (['-L', 'a', '-m', '1', '--label=b'], ('-L', '--label'), 'b'),   # the last one wins, as for the tools
    (['--label=b', '-La'], ('-L', '--label'), 'a'),
    (['-L'], ('-L',), ''),                                            # a flag without its value
    (['--lazy', '-E', 'nodiscard'], ('-L',), None),                  # long options are not short flags
    (['--labelx=y'], ('--label',), None),
    (['-E', 'nodiscard', '--lazy'], ('-L',), None),
    (['-n', 'CONFIG', '--volume-id', '1a2b3c4d'], ('-i', '--volume-id'), '1a2b3c4d'),
    (['-p', 'lock_nolock'], ('-p',), 'lock_nolock'),
    ([], ('-U',), None),
])
def test_opts_value(args, flags, value):
    assert opts_value(args, flags) == value
