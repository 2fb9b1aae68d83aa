# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""image_cache_prune under a kill -9 and with overlays created while it runs: no base in use is lost.

The module runs as one process of its own (its file, with the arguments in a
file, as AnsiballZ would run it), so that it can be killed exactly; real
qemu-img makes the bases and the overlays, and opens every overlay afterwards.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.dirname(os.path.dirname(os.path.dirname(COLLECTION_ROOT)))
MODULE = os.path.join(COLLECTION_ROOT, 'plugins', 'modules', 'image_cache_prune.py')
BASES = 60
FILLERS = 600


def qemu_img(*args):
    subprocess.run(['qemu-img'] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def tree(tmp_path):
    """_base with BASES old bases, the even ones used by an overlay; FILLERS more overlays to make the scan take time."""
    if os.path.basename(os.path.dirname(os.path.dirname(COLLECTION_ROOT))) != 'ansible_collections':
        pytest.fail('Run the integration tests from the staged collection: make integration')
    base = tmp_path / '_base'
    vms = tmp_path / 'vms'
    base.mkdir()
    vms.mkdir()
    for index in range(BASES):
        qemu_img('create', '-q', '-f', 'raw', str(base / ('b%03d.raw' % index)), '1M')
    for index in range(0, BASES, 2):
        qemu_img('create', '-q', '-f', 'qcow2', '-b', str(base / ('b%03d.raw' % index)), '-F', 'raw',
                 str(vms / ('disk%03d' % index)))
    first = vms / 'disk000'
    filler = vms / 'filler'
    filler.mkdir()
    for index in range(FILLERS):
        os.link(str(first), str(filler / ('f%04d' % index))) if index % 2 else \
            subprocess.run(['cp', '--reflink=never', str(first), str(filler / ('f%04d' % index))], check=True)
    old = time.time() - 3 * 86400
    for name in os.listdir(str(base)):
        os.utime(str(base / name), (old, old))
    return tmp_path


def start_prune(tmp_path, check=False):
    args = tmp_path / 'args.json'
    args.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': {
        'path': str(tmp_path / '_base'), 'users': [str(tmp_path / 'vms')], '_ansible_check_mode': check}}))
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    return subprocess.Popen([sys.executable, MODULE, str(args)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def broken_overlays(vms):
    """Overlays under ``vms`` whose backing chain qemu-img cannot open."""
    broken = []
    for directory, dummy, names in os.walk(str(vms)):
        for name in names:
            path = os.path.join(directory, name)
            proc = subprocess.run(['qemu-img', 'info', '-U', '--backing-chain', '-f', 'qcow2', path],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
            if proc.returncode:
                broken.append('%s: %s' % (path, proc.stderr.strip()))
    return broken


@pytest.mark.integration
def test_a_kill_9_at_any_moment_leaves_every_base_in_use(tree):
    delays = [0.02 * step for step in range(1, 40, 3)]
    killed = 0
    for delay in delays:
        proc = start_prune(tree)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.communicate()
        assert broken_overlays(tree / 'vms') == []
        for index in range(0, BASES, 2):
            assert (tree / '_base' / ('b%03d.raw' % index)).exists()
    assert killed >= 3, 'the prune ended before it could be killed; the tree is too small to test this'
    proc = start_prune(tree)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert sorted(os.listdir(str(tree / '_base'))) == ['b%03d.raw' % index for index in range(0, BASES, 2)], result
    assert broken_overlays(tree / 'vms') == []


@pytest.mark.integration
def test_overlays_created_during_a_run_keep_their_bases(tree):
    unused = ['b%03d.raw' % index for index in range(1, BASES, 2)]
    random.Random(7).shuffle(unused)
    proc = start_prune(tree)
    created = []
    while proc.poll() is None and unused:
        name = unused.pop()
        overlay = tree / 'vms' / ('new-' + name)
        made = subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', str(tree / '_base' / name), '-F', 'raw',
                               str(overlay)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if made.returncode == 0:
            created.append(name)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert created, 'no overlay was created while the prune ran; the tree is too small to test this'
    assert broken_overlays(tree / 'vms') == [], result
    for name in created:
        assert (tree / '_base' / name).exists(), (name, result)


@pytest.mark.integration
def test_an_overlay_made_at_any_moment_of_a_run_keeps_its_base(tmp_path):
    """One old unused base, and one overlay made on it at a moment that moves through the run, the end included."""
    base = tmp_path / '_base' / 'b.raw'
    base.parent.mkdir()
    (tmp_path / 'vms').mkdir()

    def fresh_base():
        if not base.exists():
            qemu_img('create', '-q', '-f', 'raw', str(base), '1M')
        old = time.time() - 3 * 86400
        os.utime(str(base), (old, old))

    fresh_base()
    started = time.monotonic()
    out, err = start_prune(tmp_path).communicate()
    duration = time.monotonic() - started
    assert json.loads(out)['removed'] == [str(base)], err
    made = 0
    moments = 24
    for moment in range(moments):
        fresh_base()
        overlay = tmp_path / 'vms' / ('disk%02d' % moment)
        proc = start_prune(tmp_path)
        time.sleep(duration * 1.2 * moment / (moments - 1))
        created = subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', str(base), '-F', 'raw',
                                  str(overlay)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        if created.returncode == 0:
            made += 1
            assert base.exists(), (moment, json.loads(out))
            assert broken_overlays(tmp_path / 'vms') == []
            overlay.unlink()
    assert made >= moments // 4, 'too few overlays were made while the prune ran to test this'
    assert not [name for name in os.listdir(str(base.parent)) if name.endswith('.removing')]
