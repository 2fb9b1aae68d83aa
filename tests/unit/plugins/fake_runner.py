# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one stand-in for ``_run.run_command`` that every unit test uses to pin exact command lines."""

from __future__ import annotations

import os

from ansible_collections.hypervisor.images.plugins.module_utils._run import CommandResult


class FakeRunner:
    """Records every command and answers it without running anything.

    ``calls`` holds each argv in order and ``limits`` the resource limits it
    was given. Answers come from ``answers``, (rc, stdout, stderr) tuples used
    in order; then from ``outputs``, the stdout of a tool by its base name
    (rc 0); then from :meth:`answer`, which fakes of whole tools override.
    By default every command succeeds with ``rc``, ``stdout`` and ``stderr``.
    """

    def __init__(self, *answers, outputs=None, rc=0, stdout='', stderr=''):
        self.calls = []
        self.limits = []
        self.answers = list(answers)
        self.outputs = outputs
        self.default = (rc, stdout, stderr)

    def __call__(self, argv, limits=None):
        self.calls.append(argv)
        self.limits.append(limits)
        if self.answers:
            rc, stdout, stderr = self.answers.pop(0)
        elif self.outputs is not None:
            rc, stdout, stderr = 0, self.outputs[os.path.basename(argv[0])], ''
        else:
            rc, stdout, stderr = self.answer(argv)
        return CommandResult(argv, rc, stdout, stderr, 0.0)

    def answer(self, argv):
        """(rc, stdout, stderr) for ``argv``; fakes of a tool work out what it would do."""
        return self.default
