# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Size strings to bytes and back.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

Every multiplier is a power of 1024, as qemu-img and Ansible's human_to_bytes
filter read them: ``10M``, ``10MB`` and ``10MiB`` are all 10 * 1024 ** 2 bytes.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError

UNITS = ('', 'K', 'M', 'G', 'T', 'P', 'E')
MULTIPLIERS = dict((unit, 1024 ** power) for power, unit in enumerate(UNITS))

ACCEPTED_FORMS = (
    'a whole number of bytes (512), or a number with a unit K, M, G, T, P or E, optionally '
    'followed by B or iB, in either case (10M, 10MB, 10MiB, 1.5G, 2t); '
    'every unit is a power of 1024'
)

_SIZE_RE = re.compile(
    r'^(?P<number>[0-9]+(?:\.[0-9]+)?)'
    r'(?:(?P<unit>[KMGTPE])(?P<suffix>I?B)?|(?P<bytes>B))?$',
    re.IGNORECASE,
)


class SizeError(TaskError, ValueError):
    """A size value that cannot be read as a number of bytes."""


class DurationError(TaskError, ValueError):
    """A duration that cannot be read as a number of seconds."""


def parse_size(value, name='size'):
    """Return the number of bytes that ``value`` stands for.

    ``value`` is an int (not a bool) or a string. Surrounding whitespace is
    ignored; whitespace inside, signs, exponents and fractions that do not come
    to a whole number of bytes are refused with a :class:`SizeError` whose
    message shows the bad value and the accepted forms.
    """
    if isinstance(value, bool):
        raise SizeError('%s: %r is a boolean, not a size; expected %s' % (name, value, ACCEPTED_FORMS))
    if isinstance(value, int):
        if value < 0:
            raise SizeError('%s: %d is negative; expected %s' % (name, value, ACCEPTED_FORMS))
        return value
    if isinstance(value, float):
        if value < 0 or value != int(value):
            raise SizeError('%s: %r is not a whole, non-negative number of bytes; expected %s'
                            % (name, value, ACCEPTED_FORMS))
        return int(value)
    if not isinstance(value, str):
        raise SizeError('%s: %r is a %s, not a size; expected %s'
                        % (name, value, type(value).__name__, ACCEPTED_FORMS))

    text = value.strip()
    if not text:
        raise SizeError('%s: the value is empty; expected %s' % (name, ACCEPTED_FORMS))
    match = _SIZE_RE.match(text)
    if not match:
        raise SizeError('%s: cannot read %r as a size; expected %s' % (name, value, ACCEPTED_FORMS))
    unit = (match.group('unit') or '').upper()
    amount = Fraction(match.group('number')) * MULTIPLIERS[unit]
    if amount.denominator != 1:
        raise SizeError('%s: %r is not a whole number of bytes (%s bytes); expected %s'
                        % (name, value, float(amount), ACCEPTED_FORMS))
    return int(amount)


def format_size(num_bytes):
    """Return the shortest exact size string for ``num_bytes``.

    The result uses the largest unit that divides the value exactly (``10G``,
    ``1536K``, ``513``), so ``parse_size(format_size(n)) == n`` for every n >= 0.
    """
    num_bytes = parse_size(num_bytes, 'num_bytes')
    if num_bytes == 0:
        return '0'
    for unit in reversed(UNITS[1:]):
        multiplier = MULTIPLIERS[unit]
        if num_bytes % multiplier == 0:
            return '%d%s' % (num_bytes // multiplier, unit)
    return str(num_bytes)


def human_size(num_bytes):
    """Return an approximate size for people to read, such as ``9.5 GiB``."""
    value = float(num_bytes)
    sign = '-' if value < 0 else ''
    value = abs(value)
    for unit in UNITS:
        if value < 1024 or unit == UNITS[-1]:
            if unit == '':
                return '%s%d bytes' % (sign, value)
            return '%s%.1f %siB' % (sign, value, unit)
        value /= 1024
    raise AssertionError('unreachable')  # pragma: no cover


DURATION_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
DURATION_FORMS = 'a number of seconds (3600), or a number with a unit s, m, h, d or w (90m, 24h, 7d, 1.5h, 2w)'
_DURATION_RE = re.compile(r'^(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[smhdw]?)$', re.IGNORECASE)


def parse_duration(value, name='duration'):
    """Return the number of seconds (an int) that ``value`` (an int or a string like ``24h``) stands for."""
    if isinstance(value, bool):
        raise DurationError('%s: %r is a boolean, not a duration; expected %s' % (name, value, DURATION_FORMS))
    if isinstance(value, int):
        if value < 0:
            raise DurationError('%s: %d is negative; expected %s' % (name, value, DURATION_FORMS))
        return value
    match = _DURATION_RE.match(str(value).strip())
    if not match:
        raise DurationError('%s: cannot read %r as a duration; expected %s' % (name, value, DURATION_FORMS))
    seconds = Fraction(match.group('number')) * DURATION_UNITS[match.group('unit').lower()]
    return int(seconds)


def human_duration(seconds):
    """``90061`` as ``1d 1h 1m 1s``, for messages."""
    parts = []
    for unit, length in (('d', 86400), ('h', 3600), ('m', 60), ('s', 1)):
        if seconds >= length or (unit == 's' and not parts):
            parts.append('%d%s' % (seconds // length, unit))
            seconds %= length
    return ' '.join(parts)


def human_and_bytes(num_bytes):
    """Return ``'9.5 GiB (10200547328 bytes)'`` for messages."""
    if abs(num_bytes) < 1024:
        return human_size(num_bytes)
    return '%s (%d bytes)' % (human_size(num_bytes), num_bytes)
