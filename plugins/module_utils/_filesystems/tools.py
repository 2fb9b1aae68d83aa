# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Finding and running the tools of one mkfs run.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

A tool is looked up by its name and the package that provides it, so that a
missing or non-executable tool fails with both. Each is looked up once, and
only when a run needs it: a run that only probes needs no mkfs tools.
"""

from __future__ import annotations

import re

from ansible_collections.hypervisor.images.plugins.module_utils._run import CommandError, find_tool, run_command


class FsError(CommandError):
    """A probe or a file system tool failed. Carries ``cmd``, ``rc``, ``stdout`` and ``stderr`` when a command ran."""


_BANNER_RE = re.compile(r'^\S+ \d+(\.\d+)+ \(\d+-\w+-\d+\)$')  # "mke2fs 1.47.0 (5-Feb-2023)"


def last_line(text):
    """The line of an error output that says what went wrong: the last, or the one before a usage text."""
    lines = [line.strip() for line in (text or '').strip().splitlines() if line.strip()]
    lines = [line for line in lines if not _BANNER_RE.match(line)]
    for index, line in enumerate(lines):
        if line.lower().startswith('usage') and index > 0:
            return lines[index - 1]
    return lines[-1] if lines else 'no error message'


class Tools:
    """Finds and runs the tools of one module run.

    ``runner`` is called as ``runner(argv, limits)`` and returns a
    CommandResult; ``which`` is called as ``which(name, package)`` and returns
    the path of the tool or raises (``_run.find_tool`` by default). Tests
    replace both.
    """

    def __init__(self, runner=None, which=None):
        self.runner = runner or run_command
        self._which = which or find_tool
        self._paths = {}

    def path(self, name, package):
        """The path of the tool ``name``, which ``package`` provides."""
        if name not in self._paths:
            self._paths[name] = self._which(name, package)
        return self._paths[name]

    def run(self, argv, what, ok=(0,)):
        """Run ``argv``; raise FsError naming ``what`` unless its exit status is in ``ok``."""
        result = self.runner(argv, None)
        if result.rc not in ok:
            raise FsError('%s failed (rc=%s): %s' % (what, result.rc, last_line(result.stderr)),
                          cmd=result.cmd, rc=result.rc, stdout=result.stdout, stderr=result.stderr)
        return result
