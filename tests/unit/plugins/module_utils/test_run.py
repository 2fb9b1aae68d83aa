# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The command runner, the tool lookup and the error root."""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import signal
import sys
import time

import pytest

from ansible_collections.hypervisor.images.plugins.module_utils import _run
from ansible_collections.hypervisor.images.plugins.module_utils._atomic import AtomicError, DestinationLock
from ansible_collections.hypervisor.images.plugins.module_utils._identity import RecordError
from ansible_collections.hypervisor.images.plugins.module_utils._inspect import InspectError
from ansible_collections.hypervisor.images.plugins.module_utils._qemu_img import DEFAULT_INFO_LIMITS, QemuImgError
from ansible_collections.hypervisor.images.plugins.module_utils._run import (
    CommandError,
    ResourceLimits,
    TaskError,
    ToolNotFoundError,
    child_setup,
    find_tool,
    run_command,
)
from ansible_collections.hypervisor.images.plugins.module_utils._sparse import SparseCopyError
from ansible_collections.hypervisor.images.plugins.module_utils._units import SizeError


def test_run_command_applies_limits_and_c_locale(monkeypatch):
    monkeypatch.setenv('LANGUAGE', 'de_DE')
    monkeypatch.setenv('LC_ALL', 'de_DE.UTF-8')
    script = ('import json, os, resource; print(json.dumps([resource.getrlimit(resource.RLIMIT_AS), '
              'resource.getrlimit(resource.RLIMIT_CPU), os.environ.get("LC_ALL"), os.environ.get("LANG"), '
              'os.environ.get("LANGUAGE")]))')
    result = run_command([sys.executable, '-c', script], ResourceLimits(address_space=2 * 1024 ** 3, cpu_time=7))
    assert result.rc == 0, result.stderr
    address_space, cpu, lc_all, lang, language = json.loads(result.stdout)
    assert address_space == [2 * 1024 ** 3, 2 * 1024 ** 3]
    assert cpu == [7, 7]
    assert (lc_all, lang, language) == ('C', 'C', None)
    # the parent process keeps its own limits
    assert resource.getrlimit(resource.RLIMIT_CPU) != (7, 7)


def test_run_command_cpu_limit_stops_a_busy_child():
    result = run_command([sys.executable, '-c', 'while True: pass'], ResourceLimits(address_space=None, cpu_time=1))
    assert result.rc in (-signal.SIGXCPU, -signal.SIGKILL)


def _spawn_and_report(pidfile):
    script = 'import os, time; open(%r, "w").write(str(os.getpid())); time.sleep(60)' % pidfile
    run_command([sys.executable, '-c', script])


def _alive(pid):
    try:
        with open('/proc/%d/status' % pid) as handle:
            return 'State:\tZ' not in handle.read()
    except FileNotFoundError:
        return False


def test_child_dies_with_a_killed_caller(tmp_path):
    pidfile = str(tmp_path / 'child.pid')
    caller = multiprocessing.Process(target=_spawn_and_report, args=(pidfile,))
    caller.start()
    deadline = time.monotonic() + 10
    while not (os.path.exists(pidfile) and os.path.getsize(pidfile)) and time.monotonic() < deadline:
        time.sleep(0.05)
    with open(pidfile) as handle:
        child = int(handle.read())
    assert _alive(child)
    os.kill(caller.pid, signal.SIGKILL)
    caller.join()
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_run_command_missing_binary():
    with pytest.raises(ToolNotFoundError, match='Cannot run /nonexistent/qemu-img'):
        run_command(['/nonexistent/qemu-img', 'info'])


def test_limits_describe():
    assert DEFAULT_INFO_LIMITS.describe() == '1024 MiB of address space and 30 s of CPU time'
    assert ResourceLimits(None, None).describe() == 'no limits'


def test_every_error_shares_one_root():
    for error in (CommandError, ToolNotFoundError, QemuImgError, AtomicError, InspectError, SparseCopyError, SizeError,
                  RecordError):
        assert issubclass(error, TaskError)
    assert issubclass(SizeError, ValueError)


def test_to_result_carries_what_ran():
    assert TaskError('no room', path='/x').to_result() == {'msg': 'no room'}
    error = CommandError('it broke', cmd=['/bin/false'], rc=1, stdout='', stderr='boom')
    assert error.to_result() == {'msg': 'it broke', 'cmd': ['/bin/false'], 'rc': 1, 'stdout': '', 'stderr': 'boom'}


# -- finding tools -----------------------------------------------------------------

def test_find_tool_in_path(monkeypatch, tmp_path):
    tool = tmp_path / 'mkfs.demo'
    tool.write_text('#!/bin/sh\n')
    tool.chmod(0o755)
    monkeypatch.setenv('PATH', str(tmp_path))
    assert find_tool('mkfs.demo', 'demo-tools') == str(tool)


def test_a_missing_tool_names_its_package(monkeypatch, tmp_path):
    monkeypatch.setenv('PATH', str(tmp_path))
    with pytest.raises(ToolNotFoundError) as excinfo:
        find_tool('mkfs.demo', 'demo-tools')
    assert excinfo.value.msg.startswith('mkfs.demo is not installed on this host')
    assert 'Install the package demo-tools' in excinfo.value.msg and str(tmp_path) in excinfo.value.msg


def test_a_tool_that_cannot_be_executed_is_named(monkeypatch, tmp_path):
    tool = tmp_path / 'mkfs.demo'
    tool.write_text('#!/bin/sh\n')
    tool.chmod(0o644)
    monkeypatch.setenv('PATH', str(tmp_path))
    if os.access(str(tool), os.X_OK):
        pytest.skip('this user may execute any file')
    with pytest.raises(ToolNotFoundError) as excinfo:
        find_tool('mkfs.demo', 'demo-tools')
    assert 'mkfs.demo cannot be executed (%s is not executable' % tool in excinfo.value.msg
    assert 'demo-tools' in excinfo.value.msg


def test_a_tool_that_fails_to_start_is_reported(tmp_path):
    tool = tmp_path / 'broken'
    tool.write_text('#!/nonexistent/interpreter\n')
    tool.chmod(0o755)
    with pytest.raises(ToolNotFoundError) as excinfo:
        run_command([str(tool)])
    assert excinfo.value.msg.startswith('Cannot run %s' % tool)
    assert excinfo.value.to_result()['cmd'] == [str(tool)]


# -- dying with the module, and keeping its locks --------------------------------

def test_a_child_whose_caller_died_before_the_death_signal_was_set_ends_itself():
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            child_setup(None, _run._libc(), parent=os.getppid() + 1000000)()
        finally:
            os._exit(0)
    dummy, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def test_commands_inherit_the_locks_held_meanwhile(tmp_path):
    dest = str(tmp_path / 'disk.raw')
    script = ('import os, sys; print(sorted(os.readlink("/proc/self/fd/%s" % fd) for fd in os.listdir("/proc/self/fd")'
              ' if os.path.exists("/proc/self/fd/%s" % fd)))')
    with DestinationLock(dest) as lock:
        held = run_command([sys.executable, '-c', script])
    after = run_command([sys.executable, '-c', script])
    assert lock.path in held.stdout
    assert lock.path not in after.stdout


# The command starts a helper of its own that outlives it by two seconds: the death
# signal reaches only the command, so only the inherited lock keeps the next run out.
_FORKING_COMMAND = """
import os, time
if os.fork() == 0:
    open(%r, 'w').write(str(os.getpid()))
    time.sleep(2)
    os._exit(0)
time.sleep(60)
"""


def _hold_lock_and_spawn(dest, pidfile):
    with DestinationLock(dest):
        run_command([sys.executable, '-c', _FORKING_COMMAND % pidfile])


def test_a_killed_callers_lock_is_free_only_once_its_commands_are_gone(tmp_path):
    dest = str(tmp_path / 'disk.raw')
    pidfile = str(tmp_path / 'child.pid')
    caller = multiprocessing.Process(target=_hold_lock_and_spawn, args=(dest, pidfile))
    caller.start()
    child = _read_pid(pidfile)
    os.kill(caller.pid, signal.SIGKILL)
    caller.join()
    # Whoever gets the lock next finds the command gone.
    with DestinationLock(dest, timeout=10):
        assert not _alive(child)


def _read_pid(pidfile):
    deadline = time.monotonic() + 10
    while not (os.path.exists(pidfile) and os.path.getsize(pidfile)) and time.monotonic() < deadline:
        time.sleep(0.05)
    with open(pidfile) as handle:
        return int(handle.read())
