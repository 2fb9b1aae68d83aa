# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Running commands, finding tools, and the root of every error the modules report.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

Every command any module runs goes through :func:`run_command`: an argv list,
never a shell, in the C locale, with optional resource limits, and tied to the
module's life:

* the child gets ``PR_SET_PDEATHSIG`` (SIGKILL), so a module that is killed
  takes the tool with it; a child whose parent died before that was set (the
  window between fork and prctl) kills itself;
* the child inherits the file descriptors of the locks the module holds (see
  :func:`inherit`), so a lock is not free again until the tool
  has really exited: the kernel releases a killed module's locks before it
  signals the module's children, and a tool in the middle of a write finishes
  that system call before it dies.

:class:`TaskError` is the root of every error module_utils raise on purpose.
The task skeleton catches it and fails the task with its ``msg`` and, where a
command ran, its ``cmd``, ``rc``, ``stdout`` and ``stderr``.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import time

C_LOCALE = {'LC_ALL': 'C', 'LANG': 'C'}
GiB = 1024 ** 3
# Where module.get_bin_path looks besides PATH.
SBIN_DIRS = ('/sbin', '/usr/sbin', '/usr/local/sbin')


class TaskError(Exception):
    """Why a task cannot do what it was asked; ``msg`` says what, where and how to fix it."""

    def __init__(self, msg, path=None):
        super(TaskError, self).__init__(msg)
        self.msg = msg
        self.path = path

    def to_result(self):
        """Keyword arguments for ``module.fail_json``."""
        return {'msg': self.msg}


class CommandError(TaskError):
    """A command failed. Carries ``cmd``, ``rc``, ``stdout`` and ``stderr`` when it ran."""

    def __init__(self, msg, cmd=None, rc=None, stdout=None, stderr=None, path=None):
        super(CommandError, self).__init__(msg, path=path)
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def to_result(self):
        result = super(CommandError, self).to_result()
        for key in ('cmd', 'rc', 'stdout', 'stderr'):
            value = getattr(self, key)
            if value is not None:
                result[key] = value
        return result


class ToolNotFoundError(CommandError):
    """A tool a task needs is not installed, or cannot be executed."""


class ResourceLimits:
    """Limits applied to a child process before it runs (address space and CPU seconds)."""

    def __init__(self, address_space=1 * GiB, cpu_time=30):
        self.address_space = address_space
        self.cpu_time = cpu_time

    def apply(self):
        if self.address_space:
            resource.setrlimit(resource.RLIMIT_AS, (self.address_space, self.address_space))
        if self.cpu_time:
            resource.setrlimit(resource.RLIMIT_CPU, (self.cpu_time, self.cpu_time))

    def describe(self):
        parts = []
        if self.address_space:
            parts.append('%d MiB of address space' % (self.address_space // (1024 * 1024)))
        if self.cpu_time:
            parts.append('%d s of CPU time' % self.cpu_time)
        return ' and '.join(parts) or 'no limits'

    def __eq__(self, other):
        return isinstance(other, ResourceLimits) and (self.address_space, self.cpu_time) == (
            other.address_space, other.cpu_time)

    def __repr__(self):
        return 'ResourceLimits(address_space=%r, cpu_time=%r)' % (self.address_space, self.cpu_time)


class CommandResult:
    def __init__(self, cmd, rc, stdout, stderr, duration):
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.duration = duration


def last_line(text):
    """The line of an error output that says what went wrong (the last one that is not blank)."""
    lines = [line.strip() for line in (text or '').strip().splitlines() if line.strip()]
    return lines[-1] if lines else 'no error message'


# -- finding tools -------------------------------------------------------------

def find_tool(name, package):
    """The path of the executable ``name``, looked for as ``module.get_bin_path`` does.

    Raises :class:`ToolNotFoundError` naming the tool and ``package`` (what
    provides it) when it is not there, or is there but cannot be executed.
    """
    dirs = [entry for entry in os.environ.get('PATH', '').split(os.pathsep) if entry]
    dirs += [entry for entry in SBIN_DIRS if entry not in dirs]
    unusable = []
    for directory in dirs:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
            unusable.append(candidate)
    if unusable:
        raise ToolNotFoundError(
            '%s cannot be executed (%s is not executable by the user the task runs as). Reinstall the package %s, '
            'or fix the mode of the file.' % (name, ', '.join(unusable), package))
    raise ToolNotFoundError('%s is not installed on this host (looked for in %s). Install the package %s.'
                            % (name, os.pathsep.join(dirs), package))


# -- running -------------------------------------------------------------------

PR_SET_PDEATHSIG = 1
_LIBC = []
# Descriptors of the locks the module holds while its commands run (see inherit).
_INHERITED = set()
# How many commands are running now (see commands_running).
_RUNNING = [0]


def _libc():
    """The C library, loaded once in the parent (loading it in a forked child is not safe)."""
    if not _LIBC:
        try:
            _LIBC.append(ctypes.CDLL(None, use_errno=True))
        except (OSError, TypeError):
            _LIBC.append(None)
    return _LIBC[0]


def child_setup(limits, libc, parent):
    """What runs in the child between fork and exec.

    ``parent`` is the caller's PID: when the child's parent is another process
    by the time the death signal is set, the caller already died and the
    signal will never come, so the child ends itself.
    """
    def setup():
        if libc is not None:
            try:
                libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
            except AttributeError:
                pass
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        if limits is not None:
            limits.apply()
    return setup


def inherit(fd):
    """Hand the descriptor ``fd`` (a lock the module holds) to every command started from now on.

    A lock held this way stays held until the last of those commands has
    exited, even when the module itself is killed first.
    """
    _INHERITED.add(fd)


def forget(fd):
    """Stop handing ``fd`` to new commands (before it is closed)."""
    _INHERITED.discard(fd)


def commands_running():
    """Whether a command started by :func:`run_command` is running now (it holds the module's locks too)."""
    return _RUNNING[0] > 0


def run_command(argv, limits=None):
    """Run ``argv`` without a shell in the C locale; return a CommandResult.

    The child gets ``limits``, the locks the module holds, and dies with the
    calling process. A command that cannot be started raises
    :class:`ToolNotFoundError`.
    """
    env = dict(os.environ)
    env.pop('LANGUAGE', None)
    env.update(C_LOCALE)
    start = time.monotonic()
    _RUNNING[0] += 1
    try:
        # This is the collection's run_command: AnsibleModule.run_command can set neither limits nor the death
        # signal in the child, nor pass it the lock descriptors. (ansible-core 2.21's sanity flags subprocess here.)
        proc = subprocess.Popen(  # pylint: disable=ansible-bad-function
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
            pass_fds=tuple(sorted(_INHERITED)),
            env=env,
            preexec_fn=child_setup(limits, _libc(), os.getpid()),
        )
        stdout, stderr = proc.communicate()
    except OSError as exc:
        raise ToolNotFoundError('Cannot run %s: %s. Check that it is installed and executable by the user the task '
                                'runs as.' % (argv[0], exc.strerror), cmd=argv)
    finally:
        _RUNNING[0] -= 1
    return CommandResult(
        argv,
        proc.returncode,
        stdout.decode('utf-8', 'replace'),
        stderr.decode('utf-8', 'replace'),
        time.monotonic() - start,
    )
