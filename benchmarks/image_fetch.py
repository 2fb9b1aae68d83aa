# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""image_fetch against curl + sha256sum and against ansible.builtin.get_url, as ratios measured in one run.

A file of incompressible data (1 GiB; BENCH_FETCH_MIB sets another size) is
served from 127.0.0.1 by the image_fetch integration target's server
(sendfile, with ETag and Content-Length), from the page cache. Each round
fetches it into a path that does not exist yet, four ways:

1. ``curl -s -f -o DEST URL`` followed by ``sha256sum DEST``: the two passes
   image_fetch does in one. Target: image_fetch (the module run directly, as
   Ansible runs it on the host, start-up included) / curl + sha256sum <= 1.1.
2. ``ansible localhost -m ansible.builtin.get_url`` with the same checksum, and
   ``ansible localhost -m hypervisor.images.image_fetch`` with it, both through
   the same controller so that its cost is on both sides. Target: image_fetch
   / get_url <= 1.0.

image_fetch also syncs the image before it renames it into place; curl and
get_url do not. Dirty pages are written back before every timed run, so that
no run pays for the one before it. Runs are interleaved; the median of
ROUNDS is used. Tests never assert on time: this is a benchmark.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

from benchmarks import _common
from benchmarks.report import size_label
from benchmarks._common import MiB, remove, run_module, timed, warm, write_full

ROUNDS = 7
SERVE_PY = os.path.join(_common.COLLECTION_ROOT, 'tests', 'integration', 'targets', 'image_fetch', 'files',
                        'serve.py')


def start_server(root):
    port_file = os.path.join(root, '.port')
    remove(port_file)
    proc = subprocess.Popen([sys.executable, SERVE_PY, '--root', root, '--port-file', port_file, '--lifetime', '3600'])
    deadline = time.monotonic() + 30
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError('the test server did not start')
        time.sleep(0.1)
    with open(port_file, encoding='ascii') as handle:
        return proc, 'http://127.0.0.1:%d' % int(handle.read())


def ansible_module(module, args):
    """Seconds ``ansible localhost -m MODULE -a ARGS`` took, with the staged collection and this Python."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=_common.COLLECTIONS_PATH,
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_NOCOLOR='1')
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible'), 'localhost', '-i', 'localhost,', '-c', 'local',
            '-m', module, '-a', ' '.join('%s=%s' % item for item in sorted(args.items()))]
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError('%s failed: %s %s' % (module, proc.stdout[-2000:], proc.stderr[-2000:]))
    return elapsed


def fresh(*paths):
    """Remove the destinations of the last round and write dirty pages back, outside the timing."""
    remove(*paths)
    os.sync()


def run(workdir):
    if shutil.which('curl') is None:
        sys.exit('The image_fetch benchmark compares with curl, which is not installed (apt-get install curl).')
    size = int(os.environ.get('BENCH_FETCH_MIB', '1024')) * MiB
    served = os.path.join(workdir, 'served')
    os.makedirs(served, exist_ok=True)
    image = os.path.join(served, 'image.raw')
    if not os.path.exists(image) or os.path.getsize(image) != size:
        print('Writing %s (%s of incompressible data)' % (image, _common.label(size)), flush=True)
        write_full(image, size)
    digest = subprocess.run(['sha256sum', image], check=True, capture_output=True, text=True).stdout.split()[0]
    checksum = 'sha256:' + digest
    warm(image)
    load_before = _common.wait_for_quiet(120)
    dests = {name: os.path.join(workdir, name + '.raw') for name in ('curl', 'module', 'get_url', 'fetch_ansible')}
    times = dict((name, []) for name in ('curl', 'sha256sum', 'module', 'get_url', 'fetch_ansible'))
    throughput = []
    server, base = start_server(served)
    url = base + '/image.raw'
    try:
        for dummy in range(ROUNDS):
            fresh(*dests.values())
            times['curl'].append(timed(['curl', '-s', '-f', '-o', dests['curl'], url]))
            times['sha256sum'].append(timed(['sha256sum', dests['curl']]))
            fresh(*dests.values())
            seconds, result = run_module('image_fetch', {'url': url, 'dest': dests['module'], 'checksum': checksum})
            if result.get('failed') or not result.get('changed'):
                raise RuntimeError('image_fetch: %s' % result.get('msg', result))
            times['module'].append(seconds)
            throughput.append(result['bytes_per_second'])
            fresh(*dests.values())
            times['get_url'].append(ansible_module('ansible.builtin.get_url',
                                                   {'url': url, 'dest': dests['get_url'], 'checksum': checksum}))
            fresh(*dests.values())
            times['fetch_ansible'].append(ansible_module('hypervisor.images.image_fetch',
                                                         {'url': url, 'dest': dests['fetch_ansible'],
                                                          'checksum': checksum}))
        fresh(*dests.values())
    finally:
        server.terminate()
        server.wait()
    med = dict((name, statistics.median(values)) for name, values in times.items())
    two_pass = med['curl'] + med['sha256sum']
    return {
        'size_bytes': size,
        'rounds': ROUNDS,
        'curl_s': round(med['curl'], 3),
        'sha256sum_s': round(med['sha256sum'], 3),
        'curl_plus_sha256sum_s': round(two_pass, 3),
        'image_fetch_s': round(med['module'], 3),
        'image_fetch_bytes_per_second': int(statistics.median(throughput)),
        'ratio_vs_curl_sha256sum': round(med['module'] / two_pass, 3),
        'target_vs_curl_sha256sum': '<= 1.1',
        'get_url_ansible_s': round(med['get_url'], 3),
        'image_fetch_ansible_s': round(med['fetch_ansible'], 3),
        'ratio_vs_get_url': round(med['fetch_ansible'] / med['get_url'], 3),
        'target_vs_get_url': '<= 1.0',
        'loadavg_before': load_before,
        'loadavg_after': _common.loadavg(),
    }


def main():
    results = run(_common.data_dir('image_fetch'))
    what = '%s from 127.0.0.1' % _common.label(results['size_bytes'])
    rows = [
        ('curl -o, %s' % what, '%.3f s' % results['curl_s']),
        ('sha256sum of the result', '%.3f s' % results['sha256sum_s']),
        ('image_fetch with the checksum (hashed while it streams, synced, renamed)', '%.3f s' % results['image_fetch_s']),
        ('image_fetch throughput', '%d MiB/s' % (results['image_fetch_bytes_per_second'] // MiB)),
        ('**ratio** image_fetch / (curl + sha256sum), target <= 1.1', '**%.3f**' % results['ratio_vs_curl_sha256sum']),
        ('ansible -m ansible.builtin.get_url with the checksum', '%.3f s' % results['get_url_ansible_s']),
        ('ansible -m hypervisor.images.image_fetch with the checksum', '%.3f s' % results['image_fetch_ansible_s']),
        ('**ratio** image_fetch / get_url, target <= 1.0', '**%.3f**' % results['ratio_vs_get_url']),
    ]
    _common.print_table('image_fetch vs curl + sha256sum and get_url', ('measure', 'value'), rows)
    print('\nsaved %s' % _common.save('image_fetch', results))


def report(document, out):
    """The section of the performance page (benchmarks/report.py)."""
    result = document['results']
    fig, (axis,) = out.figure(size=(9.0, 4.0))
    labels = ['curl -o + sha256sum', 'image_fetch (module run directly)', 'ansible -m get_url (checksum)',
              'ansible -m image_fetch (checksum)']
    values = [result['curl_plus_sha256sum_s'], result['image_fetch_s'], result['get_url_ansible_s'],
              result['image_fetch_ansible_s']]
    out.seconds_bars(axis, labels, values, ['#777777', '#1f77b4', '#aaaaaa', '#aec7e8'])
    axis.set_title('%s from an HTTP server on 127.0.0.1, hashed with SHA-256\nimage_fetch / (curl + sha256sum): %.3f '
                   '(target %s)\nimage_fetch / get_url: %.3f (target %s)'
                   % (size_label(result['size_bytes']), result['ratio_vs_curl_sha256sum'],
                      result['target_vs_curl_sha256sum'], result['ratio_vs_get_url'], result['target_vs_get_url']),
                   fontsize=9)
    figure = out.save(fig, 'image_fetch', document, 'image_fetch against curl and sha256sum, and against get_url',
                      'image_fetch hashes while it receives, in one pass; curl and sha256sum read the image twice. '
                      'image_fetch also syncs the image before renaming it into place, which neither of the others '
                      'does.')
    rows = [['``curl -o``', '%.3f s' % result['curl_s']],
            ['``sha256sum`` of the download', '%.3f s' % result['sha256sum_s']],
            ['``image_fetch`` (module run directly)', '%.3f s (%s/s)'
             % (result['image_fetch_s'], size_label(result['image_fetch_bytes_per_second']))],
            ['**ratio to curl + sha256sum**, target %s' % result['target_vs_curl_sha256sum'],
             '**%.3f**' % result['ratio_vs_curl_sha256sum']],
            ['``ansible -m get_url`` with the checksum', '%.3f s' % result['get_url_ansible_s']],
            ['``ansible -m image_fetch`` with the checksum', '%.3f s' % result['image_fetch_ansible_s']],
            ['**ratio to get_url**, target %s' % result['target_vs_get_url'], '**%.3f**' % result['ratio_vs_get_url']]]
    return '\n'.join([
        'Fetching images', '---------------', '',
        '``benchmarks/image_fetch.py``: ``hypervisor.images.image_fetch`` downloading an image from a local HTTP '
        'server and checking its checksum, against ``curl -o`` followed by ``sha256sum`` and against '
        '``ansible.builtin.get_url``; median of %d interleaved runs.' % result['rounds'], '', out.load(document), '', figure,
        out.table(['measure', 'value'], rows)])
