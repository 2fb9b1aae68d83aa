# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The ``opts`` parameter of mkfs: split into arguments, and read as the tools read it.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.
"""

from __future__ import annotations

import shlex


def split_opts(opts):
    """``opts`` as an argv list: a string is split as a shell would (without running one), a list is kept."""
    if opts is None:
        return []
    if isinstance(opts, str):
        try:
            return shlex.split(opts)
        except ValueError as exc:
            raise ValueError('opts: cannot split %r into arguments: %s' % (opts, exc))
    if isinstance(opts, (list, tuple)):
        args = []
        for item in opts:
            if isinstance(item, (dict, list, tuple)) or item is None or isinstance(item, bool):
                raise ValueError('opts: %r is not a single argument; give a list of strings' % (item,))
            args.append(str(item))
        return args
    raise ValueError('opts: give a string such as "-m 1 -E lazy_itable_init=0" or a list of arguments, not a %s'
                     % type(opts).__name__)


def opts_values(args, flags):
    """The values ``args`` give to any of ``flags`` (``-X value``, ``-Xvalue``, ``--long=value``), in order."""
    found = []
    for index, arg in enumerate(args):
        for flag in flags:
            if arg == flag:
                found.append(args[index + 1] if index + 1 < len(args) else '')
            elif flag.startswith('--') and arg.startswith(flag + '='):
                found.append(arg[len(flag) + 1:])
            elif not flag.startswith('--') and arg.startswith(flag) and not arg.startswith('--'):
                found.append(arg[len(flag):])
    return found


def opts_value(args, flags):
    """The value ``args`` give to one of ``flags``, or None; the last one counts, as for the tools."""
    found = opts_values(args, flags)
    return found[-1] if found else None
