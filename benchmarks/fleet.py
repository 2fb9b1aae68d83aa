# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provisioning playbook on a fleet: N hypervisors at once, forks=N, in podman containers.

For each N of BENCH_FLEET_SIZES (default 1 2 4 8 16) the benchmark runs
``hypervisor.images.provision_hypervisor`` with a small plan (a blank base
image, one converted from a qcow2 on the host, an overlay, a flat copy, a
qcow2 ephemeral disk, an ext4 ephemeral disk and a swap disk) on the first N
of the containers ``hvimg-fleet-1`` ... with ``--forks N``: in check mode on
the fresh hosts, then from nothing (the first run) and once more with nothing
to do (the re-run). Beside it, in the same run, the same plan goes through
benchmarks/per_image_playbook.yml, the playbook as it was before image_plan
(one module call per directory and per image). The instance storage of those
N hosts is removed before each round; each N runs BENCH_FLEET_REPEAT rounds
(default 2) and the medians count. Ratios are to N = 1 of the same playbook.
A callback (benchmarks/callbacks/count_module_calls.py) counts the module
calls each host makes; the CPU time of ansible-playbook and its children (the
controller) and of the containers' cgroups (the hosts) is recorded per run. The targets, for provision_hypervisor: the re-run of
16 hosts at forks=16 within 3 times the re-run of 1 host, of 8 hosts within
2 times, and at most 5 module calls per host in a re-run.

The controller and every container share this machine's cores, so what the
figures show is how the controller's per-host work (a fork, templating, an SSH
round trip per module) and the hosts' module runs queue on them, not how a
real fleet of separate machines would scale.

The containers come from the molecule test image (``make test-image``,
localhost/hypervisor-images-test:bookworm), with the podman settings of
tests/setup/containers.conf (``CONTAINERS_CONF``, as the Makefile sets it).
They are reached as operators reach hypervisors: over SSH as an unprivileged
login (``deploy``) with become, pipelining on; each container shares the
host's network namespace and runs sshd on a port of 127.0.0.1 of its own
(tests/setup/container-sshd.sh). BENCH_FLEET_CONNECTION=podman uses the
containers.podman.podman connection as root instead (no pipelining: that
plugin does not offer it, and each module call costs several ``podman exec``).
The containers are removed at the end, and at the start if a killed run left
them.

Environment: BENCH_FLEET_CONNECTION (ssh or podman), BENCH_FLEET_SIZES, BENCH_FLEET_REPEAT, BENCH_FLEET_IMAGE,
BENCH_FLEET_STRATEGY_FREE (default 1: also time 8 hosts with
``strategy: free``), BENCH_DIR (inventories and plans go to its fleet/
subdirectory), BENCH_RESULTS (where fleet.json goes).
"""

from __future__ import annotations

import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import time

from benchmarks import _common

CONNECTION = os.environ.get('BENCH_FLEET_CONNECTION', 'ssh')
SIZES = tuple(int(n) for n in os.environ.get('BENCH_FLEET_SIZES', '1 2 4 8 16').split())
REPEAT = int(os.environ.get('BENCH_FLEET_REPEAT', '2'))
IMAGE = os.environ.get('BENCH_FLEET_IMAGE', 'localhost/hypervisor-images-test:bookworm')
STRATEGY_FREE = os.environ.get('BENCH_FLEET_STRATEGY_FREE', '1') == '1'
PREFIX = 'hvimg-fleet-'
ROOT = '/var/lib/nova/instances'
#: ratio of the no-change re-run of N hosts to that of 1 host, at most (provision_hypervisor)
TARGETS = {16: 3.0, 8: 2.0}
#: module calls per host in a no-change re-run, at most
CALLS_TARGET = 5
PLAYBOOKS = {
    'plan': 'hypervisor.images.provision_hypervisor',
    'per-image': os.path.join(os.path.dirname(os.path.abspath(__file__)), 'per_image_playbook.yml'),
    'floor': os.path.join(os.path.dirname(os.path.abspath(__file__)), 'floor_playbook.yml'),
}
CONNECTION_NAMES = {'ssh': 'ssh as an unprivileged login with become (sudo), pipelining on',
                    'podman': 'containers.podman.podman as root'}
SSHD_SETUP = os.path.join(_common.COLLECTION_ROOT, 'tests', 'setup', 'container-sshd.sh')
CALLBACKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'callbacks')

PLAN = """---
instance_storage_root: %(root)s
instance_storage_min_free: 64M
provision_base_images:
  - {name: cirros.raw, format: raw, size: 64M}
  - {name: guest.raw, format: raw, size: 64M, src: /srv/images/guest.qcow2, src_format: qcow2}
provision_overlays:
  - {instance: 7e1f-instance, name: disk, base: guest.raw, size: 256M}
provision_flat_copies:
  - {instance: 51aa-instance, name: disk, base: guest.raw, size: 64M}
provision_ephemeral_disks:
  - {instance: 7e1f-instance, name: disk.eph0, format: raw, size: 64M, fstype: ext4, label: ephemeral0}
  - {instance: 7e1f-instance, name: disk.swap, format: raw, size: 32M, fstype: swap, label: swap0}
  - {instance: 51aa-instance, name: disk.scratch, format: qcow2, size: 128M}
"""

RECAP = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


def names(count):
    return ['%s%d' % (PREFIX, index) for index in range(1, count + 1)]


def podman(*args, check=True):
    return subprocess.run(['podman'] + list(args), check=check, capture_output=True, text=True)


def remove_containers(count):
    for name in names(count):
        podman('rm', '--force', '--time', '0', name, check=False)


def free_ports(count):
    """``count`` TCP ports of 127.0.0.1 that nothing listens on (all held at once, so they differ)."""
    sockets = [socket.socket() for dummy in range(count)]
    try:
        for sock in sockets:
            sock.bind(('127.0.0.1', 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def start_containers(count, workdir):
    """Start ``count`` containers from IMAGE and put a qcow2 "download" with data on each.

    With the ssh connection each container shares the host's network namespace and runs sshd
    on a port of its own (tests/setup/container-sshd.sh: a login ``deploy`` that may sudo).
    Returns {name: port} (empty for the podman connection) and the private key's path.
    """
    if podman('image', 'exists', IMAGE, check=False).returncode != 0:
        sys.exit('The test image %s is missing: run make test-image first.' % IMAGE)
    remove_containers(count)
    network = 'host' if CONNECTION == 'ssh' else 'none'
    for name in names(count):
        podman('run', '--detach', '--name', name, '--hostname', name, '--network', network, IMAGE,
               'sleep', 'infinity')
    ports, key = {}, os.path.join(workdir, 'id_ed25519')
    if CONNECTION == 'ssh':
        for path in (key, key + '.pub'):
            if os.path.exists(path):
                os.unlink(path)
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'hvimg-fleet', '-f', key], check=True)
        for name, port in zip(names(count), free_ports(count)):
            subprocess.run([SSHD_SETUP, name, str(port), key + '.pub'], check=True)
            ports[name] = port
    for name in names(count):
        podman('exec', name, 'sh', '-c',
               'mkdir -p /srv/images && qemu-img create -q -f qcow2 /srv/images/guest.qcow2 64M && '
               'qemu-io -f qcow2 -c "write -P 0x47 0 4M" -c "write -P 0x48 32M 1M" /srv/images/guest.qcow2 '
               '>/dev/null')
    return ports, key


def clean(count):
    for name in names(count):
        podman('exec', name, 'rm', '-rf', '--', ROOT)


def write_inventory(workdir, count, ports, key):
    """An inventory of the first ``count`` containers: over SSH as deploy with become, or podman exec as root."""
    path = os.path.join(workdir, 'inventory-%d.ini' % count)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('[hypervisors]\n')
        for name in names(count):
            if CONNECTION == 'ssh':
                handle.write('%s ansible_host=127.0.0.1 ansible_port=%d\n' % (name, ports[name]))
            else:
                handle.write('%s\n' % name)
        handle.write('\n[hypervisors:vars]\nansible_python_interpreter=/usr/bin/python3\n')
        if CONNECTION == 'ssh':
            handle.write('ansible_connection=ssh\nansible_user=deploy\nansible_become=true\n'
                         'ansible_ssh_private_key_file=%s\n'
                         'ansible_ssh_common_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"\n'
                         % key)
        else:
            handle.write('ansible_connection=containers.podman.podman\n')
    return path


def cpu_ticks():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open('/proc/stat', encoding='ascii') as handle:
        fields = [int(value) for value in handle.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def hosts_cpu(count):
    """CPU seconds the first ``count`` containers have used so far (their cgroups: sshd, sudo, the modules).

    None where the cgroup cannot be read (cgroup v1 cpuacct or cgroup v2 cpu.stat).
    """
    total = 0.0
    for name in names(count):
        found = podman('inspect', '--format', '{{.State.CgroupPath}}', name, check=False)
        path = found.stdout.strip().lstrip('/')
        if found.returncode or not path:
            return None
        v1, v2 = '/sys/fs/cgroup/cpuacct/%s/cpuacct.usage' % path, '/sys/fs/cgroup/%s/cpu.stat' % path
        try:
            if os.path.exists(v1):
                with open(v1, encoding='ascii') as handle:
                    total += int(handle.read()) / 1e9
            else:
                with open(v2, encoding='ascii') as handle:
                    usage = dict(line.split() for line in handle)
                total += int(usage['usage_usec']) / 1e6
        except (OSError, KeyError, ValueError):
            return None
    return total


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def playbook(inventory, plan, forks, strategy=None, which='plan', check=False):
    """Run a provisioning playbook; return (seconds, {host: (ok, changed, failed)}, cpu, {host: module calls}).

    ``cpu`` has the CPU seconds of ansible-playbook and its children (the
    ssh or podman commands it runs; not the container runtime's processes, which
    podman's conmon starts) and the share of the machine's CPU time that was
    busy meanwhile (all processes, the containers' too).
    """
    calls_file = os.path.join(os.path.dirname(inventory), 'calls.json')
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=_common.COLLECTIONS_PATH, ANSIBLE_NOCOLOR='1',
               ANSIBLE_HOST_KEY_CHECKING='0', ANSIBLE_CALLBACK_PLUGINS=CALLBACKS,
               ANSIBLE_CALLBACKS_ENABLED='count_module_calls', BENCH_MODULE_CALLS=calls_file,
               ANSIBLE_PIPELINING=str(CONNECTION == 'ssh'))
    # the hosts' own Python, named in the inventory (the Makefile points this at the controller's)
    env.pop('ANSIBLE_PYTHON_INTERPRETER', None)
    if strategy:
        env['ANSIBLE_STRATEGY'] = strategy
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', inventory,
            '--forks', str(forks), '-e', '@%s' % plan, PLAYBOOKS[which]] + (['--check', '--diff'] if check else [])
    count = forks  # every run has as many forks as hosts
    hosts_before = hosts_cpu(count)
    cpu_before, (busy_before, total_before) = children_cpu(), cpu_ticks()
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    busy, total = cpu_ticks()
    cpu = {'controller_cpu_s': round(children_cpu() - cpu_before, 2),
           'machine_busy': round((busy - busy_before) / max(1, total - total_before), 3)}
    hosts_after = hosts_cpu(count)
    if hosts_before is not None and hosts_after is not None:
        cpu['hosts_cpu_s'] = round(hosts_after - hosts_before, 2)
    recap = dict((host, (int(ok), int(changed), int(unreachable) + int(failed)))
                 for host, ok, changed, unreachable, failed in RECAP.findall(proc.stdout))
    if proc.returncode != 0 or not recap:
        raise RuntimeError('%s failed (rc %d):\n%s\n%s'
                           % (PLAYBOOKS[which], proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:]))
    with open(calls_file, encoding='utf-8') as handle:
        calls = json.load(handle)
    return seconds, recap, cpu, calls


def check_recap(recap, count, first):
    expected = set(names(count))
    if set(recap) != expected:
        raise RuntimeError('play recap names %s, expected %s' % (sorted(recap), sorted(expected)))
    for host, (dummy_ok, changed, failed) in recap.items():
        if failed or (changed == 0) == first:
            run = 'first' if first else 'no-change'
            raise RuntimeError('%s: changed=%d failed=%d on the %s run' % (host, changed, failed, run))


def measure(workdir, plan, count, ports, key, strategy=None, which='plan'):
    inventory = write_inventory(workdir, count, ports, key)
    check, check_failed, first, rerun, cpu, calls = [], [], [], [], [], []
    for dummy in range(REPEAT):
        clean(count)
        try:
            seconds, recap, used, dummy_calls = playbook(inventory, plan, count, strategy, which, check=True)
            check_recap(recap, count, first=True)
            check.append(round(seconds, 2))
        except RuntimeError:
            # the per-image playbook fails in check mode on a fresh host: its tasks miss what earlier tasks only
            # pretended to create
            check_failed.append(True)
        seconds, recap, used, dummy_calls = playbook(inventory, plan, count, strategy, which)
        check_recap(recap, count, first=True)
        first.append(round(seconds, 2))
        seconds, recap, used, host_calls = playbook(inventory, plan, count, strategy, which)
        check_recap(recap, count, first=False)
        rerun.append(round(seconds, 2))
        cpu.append(used)
        calls.append(max(host_calls.values()))
        print('  %-9s %2d host(s), forks=%-2d %-7s check %6.1f s   first %6.1f s   no-change re-run %6.1f s '
              '(%d module calls per host, controller CPU %.1f s, hosts\' CPU %s s, machine busy %d%%)'
              % (which, count, count, strategy or 'linear', check[-1] if check else float('nan'), first[-1], rerun[-1],
                 calls[-1], used['controller_cpu_s'],
                 '%.1f' % used['hosts_cpu_s'] if 'hosts_cpu_s' in used else '?', used['machine_busy'] * 100),
              flush=True)
    tasks = sum(ok for ok, dummy_changed, dummy_failed in recap.values()) // count
    return {'playbook': which, 'hosts': count, 'forks': count, 'strategy': strategy or 'linear', 'check_s': check,
            'first_s': first, 'rerun_s': rerun, 'check_median_s': round(statistics.median(check), 2) if check else None,
            'check_failed': bool(check_failed),
            'first_median_s': round(statistics.median(first), 2), 'rerun_median_s': round(statistics.median(rerun), 2),
            'tasks_per_host': tasks, 'rerun_module_calls_per_host': max(calls), 'rerun_cpu': cpu,
            'rerun_controller_cpu_s': round(statistics.median(used['controller_cpu_s'] for used in cpu), 2),
            'rerun_machine_busy': round(statistics.median(used['machine_busy'] for used in cpu), 3),
            'rerun_hosts_cpu_s': (round(statistics.median(used['hosts_cpu_s'] for used in cpu), 2)
                                  if all('hosts_cpu_s' in used for used in cpu) else None)}


def measure_floor(workdir, plan, count, ports, key):
    """The floor: one ansible.builtin.ping per host, as many rounds as the others; it changes nothing."""
    inventory = write_inventory(workdir, count, ports, key)
    rerun, cpu, calls = [], [], []
    for dummy in range(REPEAT):
        seconds, recap, used, host_calls = playbook(inventory, plan, count, which='floor')
        check_recap(recap, count, first=False)
        rerun.append(round(seconds, 2))
        cpu.append(used)
        calls.append(max(host_calls.values()))
    print('  %-9s %2d host(s), forks=%-2d one ping per host %6.1f s' % ('floor', count, count, rerun[-1]), flush=True)
    return {'playbook': 'floor', 'hosts': count, 'forks': count, 'strategy': 'linear', 'check_s': [], 'first_s': [],
            'rerun_s': rerun, 'check_median_s': None, 'check_failed': False, 'first_median_s': None,
            'rerun_median_s': round(statistics.median(rerun), 2), 'tasks_per_host': 1,
            'rerun_module_calls_per_host': max(calls), 'rerun_cpu': cpu,
            'rerun_controller_cpu_s': round(statistics.median(used['controller_cpu_s'] for used in cpu), 2),
            'rerun_machine_busy': round(statistics.median(used['machine_busy'] for used in cpu), 3),
            'rerun_hosts_cpu_s': (round(statistics.median(used['hosts_cpu_s'] for used in cpu), 2)
                                  if all('hosts_cpu_s' in used for used in cpu) else None)}


# Two tables of few columns each (a page column holds about seven): the wall times, and what the re-run cost.
TIME_HEADER = ('playbook', 'hosts', 'check mode (s)', 'first run (s)', 'ratio', 'no-change re-run (s)', 'ratio')
COST_HEADER = ('playbook', 'hosts', 'module calls per host', 'controller CPU (s)', 'hosts\' CPU (s)', 'machine busy')


def _label(run):
    """The playbook of a run, with its strategy when it is not linear."""
    name = run.get('playbook', 'per-image')
    return name if run['strategy'] == 'linear' else '%s, strategy %s' % (name, run['strategy'])


def _hosts(run):
    return '%d' % run['hosts'] if run['forks'] == run['hosts'] else '%d (forks %d)' % (run['hosts'], run['forks'])


def _time_rows(runs):
    return [[_label(run), _hosts(run),
             'fails' if run.get('check_failed') else ('%.1f' % run['check_median_s'] if run.get('check_median_s') else '-'),
             '%.1f' % run['first_median_s'] if run.get('first_median_s') else '-',
             '%.2f' % run['first_ratio'] if run.get('first_ratio') else '-',
             '%.1f' % run['rerun_median_s'], '%.2f' % run['rerun_ratio']] for run in runs]


def _cost_rows(runs):
    return [[_label(run), _hosts(run), run.get('rerun_module_calls_per_host', '-'), '%.1f' % run['rerun_controller_cpu_s'],
             '%.1f' % run['rerun_hosts_cpu_s'] if run.get('rerun_hosts_cpu_s') is not None else '-',
             '%d%%' % round(run['rerun_machine_busy'] * 100)] for run in runs]


def memory_available():
    with open('/proc/meminfo', encoding='ascii') as handle:
        for line in handle:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1]) * 1024
    return None


def main():
    os.environ.setdefault('CONTAINERS_CONF', os.path.join(_common.COLLECTION_ROOT, 'tests', 'setup', 'containers.conf'))
    workdir = _common.data_dir('fleet')
    plan = os.path.join(workdir, 'plan.yml')
    with open(plan, 'w', encoding='utf-8') as handle:
        handle.write(PLAN % {'root': ROOT})
    largest = max(SIZES)
    print('Fleet: %s host(s), %d round(s) each, image %s' % (', '.join(map(str, SIZES)), REPEAT, IMAGE), flush=True)
    load = {'before': _common.wait_for_quiet(float(os.environ.get('BENCH_QUIET_WAIT', '600')))}
    memory_before = memory_available()
    try:
        ports, key = start_containers(largest, workdir)
        memory_with_fleet = memory_available()
        runs = [measure(workdir, plan, count, ports, key, which=which) for count in SIZES
                for which in ('plan', 'per-image')]
        runs += [measure_floor(workdir, plan, count, ports, key) for count in SIZES]
        if STRATEGY_FREE and 8 in SIZES:
            runs.append(measure(workdir, plan, 8, ports, key, strategy='free'))
    finally:
        remove_containers(largest)
    load['after'] = _common.loadavg()

    for which in PLAYBOOKS:
        base = next(run for run in runs if run['hosts'] == 1 and run['strategy'] == 'linear'
                    and run['playbook'] == which)
        for run in runs:
            if run['playbook'] == which:
                if run['first_median_s']:
                    run['first_ratio'] = round(run['first_median_s'] / base['first_median_s'], 2)
                run['rerun_ratio'] = round(run['rerun_median_s'] / base['rerun_median_s'], 2)
    verdict = []
    for hosts, target in sorted(TARGETS.items()):
        found = [run for run in runs if run['hosts'] == hosts and run['strategy'] == 'linear'
                 and run['playbook'] == 'plan']
        if found:
            verdict.append({'target': 'no-change re-run of %d hosts at forks=%d <= %g x 1 host' % (hosts, hosts, target),
                            'ratio': found[0]['rerun_ratio'], 'met': found[0]['rerun_ratio'] <= target})
    calls = max(run['rerun_module_calls_per_host'] for run in runs if run['playbook'] == 'plan')
    verdict.append({'target': 'module calls per host in a no-change re-run <= %d' % CALLS_TARGET, 'ratio': calls,
                    'met': calls <= CALLS_TARGET})

    _common.print_table('provision_hypervisor on N podman hypervisors: wall time', TIME_HEADER, _time_rows(runs))
    _common.print_table('provision_hypervisor on N podman hypervisors: the no-change re-run', COST_HEADER,
                        _cost_rows(runs))
    for item in verdict:
        print('%s: %g (%s)' % (item['target'], item['ratio'], 'met' if item['met'] else 'NOT met'))
    versions = _common.tool_versions(['podman', '--version'],
                                     [os.path.join(os.path.dirname(sys.executable), 'ansible'), '--version'])
    path = _common.save(
        'fleet', {'runs': runs, 'target': verdict},
        machine=dict(_common.machine(workdir), memory_available_before=memory_before,
                     memory_available_with_fleet=memory_with_fleet, **versions),
        protocol={'repeat': REPEAT, 'sizes': list(SIZES), 'image': IMAGE, 'connection': CONNECTION_NAMES[CONNECTION],
                  'plan': PLAN % {'root': ROOT}, 'load_average': load,
                  'rounds': 'instance storage removed, check mode, first run, no-change re-run; medians of the rounds'})
    print('\nSaved %s' % path)


def _bound_text(machine, call_cost, base_run, widest):
    """What bounds the re-run on this machine: the CPU the controller and the hosts need, over its cores."""
    cores = machine.get('cpus')
    text = ('What bounds it here: the controller and every "hypervisor" share this machine\'s %s cores. Each task '
            'costs the controller a fork, templating and result handling, and each module call %s; so the number of '
            'module calls per host is what the re-run costs. A no-change re-run of one host took %.1f s of CPU in '
            'ansible-playbook and the commands it ran, and the machine was %d%% busy during it; at %d hosts it '
            'was %d%% busy.' % (cores or '?', call_cost, base_run['rerun_controller_cpu_s'],
                                round(base_run['rerun_machine_busy'] * 100), widest['hosts'],
                                round(widest['rerun_machine_busy'] * 100)))
    hosts_cpu = widest.get('rerun_hosts_cpu_s')
    if hosts_cpu is not None and cores and widest.get('rerun_module_calls_per_host'):
        needed = widest['rerun_controller_cpu_s'] + hosts_cpu
        floor = needed / cores
        text += (' At %d hosts the re-run needed %.1f s of CPU on the controller and %.1f s inside the containers '
                 '(sshd, sudo and the modules: %.2f s a module call), %.1f s in all: on %d cores no schedule finishes '
                 'it in less than %.1f s, %.1f times the re-run of one host (%.1f s), before any waiting.'
                 % (widest['hosts'], widest['rerun_controller_cpu_s'], hosts_cpu,
                    hosts_cpu / (widest['hosts'] * widest['rerun_module_calls_per_host']), needed, cores, floor,
                    floor / base_run['rerun_median_s'], base_run['rerun_median_s']))
    return text + (' On a real fleet the modules run on the hypervisors\' own CPUs and only the controller\'s share '
                   'remains.')


def report(document, out):
    """The section of the performance page (benchmarks/report.py)."""
    results = document['results']
    every = results['runs']
    kinds = [which for which in PLAYBOOKS if any(run.get('playbook', 'per-image') == which for run in every)]
    linear = dict((which, [run for run in every if run['strategy'] == 'linear'
                           and run.get('playbook', 'per-image') == which]) for which in kinds)
    free = [run for run in every if run['strategy'] == 'free']
    main_kind = 'plan' if 'plan' in linear else kinds[0]
    runs = linear[main_kind]
    fig, (seconds, ratios) = out.figure(ncols=2, size=(10.0, 4.2))
    for which in kinds:
        hosts = [run['hosts'] for run in linear[which]]
        label = 'floor: one ping per host' if which == 'floor' else '%s: no-change re-run' % which
        if which != 'floor':
            seconds.plot(hosts, [run['first_median_s'] for run in linear[which]], marker='o',
                         label='%s: first run' % which)
        seconds.plot(hosts, [run['rerun_median_s'] for run in linear[which]], marker='o', label=label)
        ratios.plot(hosts, [run['rerun_ratio'] for run in linear[which]], marker='o', label=label)
    for run in free:
        seconds.plot([run['hosts']], [run['rerun_median_s']], marker='s', linestyle='none',
                     label='no-change re-run, strategy free')
    seconds.set_ylim(bottom=0)
    seconds.set_xlabel('hosts (forks = hosts)')
    seconds.set_ylabel('median wall time (s)')
    seconds.set_title('Provisioning wall time', fontsize=10)
    seconds.legend(fontsize=7)
    hosts = [run['hosts'] for run in runs]
    ratios.plot(hosts, hosts, linestyle=':', color='#999999', label='hosts one after another')
    for count, target in sorted(TARGETS.items()):
        ratios.plot([count], [target], marker='_', markersize=14, color='#d62728', linestyle='none',
                    label='target at %d hosts: %g' % (count, target))
    ratios.set_ylim(bottom=0, top=max([3.0] + [run['rerun_ratio'] for which in kinds for run in linear[which]]) * 1.3)
    ratios.set_xlabel('hosts (forks = hosts)')
    ratios.set_ylabel('wall time / wall time of 1 host')
    ratios.set_title('Ratio to one host (no-change re-run)', fontsize=10)
    ratios.legend(fontsize=7)
    machine = document.get('machine', {})
    base_run, widest = runs[0], runs[-1]
    figure = out.save(fig, 'fleet', document, 'Fleet wall time and ratio against the number of hosts',
                      'Wall time of the provisioning playbooks on N podman containers at forks=N, and the ratio of '
                      'the no-change re-run to one host; controller and containers share the %s cores of one machine.'
                      % machine.get('cpus', '?'))
    targets = results.get('target') or []
    if isinstance(targets, dict):
        targets = [targets]
    verdict = ' '.join(
        'Target: %s. Measured: **%g**, %s.' % (item['target'], item['ratio'], 'met' if item['met'] else 'not met')
        for item in targets)
    floors = dict((run['hosts'], run) for run in linear.get('floor', []) if run['hosts'] in TARGETS)
    if floors:
        verdict += (' The floor, in the same run: a playbook of one ``ansible.builtin.ping`` per host with become and '
                    'nothing else, the least any playbook costs over this connection, takes %s one host here.'
                    % ', '.join('%.2f times at %d hosts' % (floors[count]['rerun_ratio'], count)
                                for count in sorted(floors)))
    protocol = document.get('protocol', {})
    over_ssh = protocol.get('connection', '').startswith('ssh')
    connection = ('SSH as an unprivileged login with become (sudo) and pipelining, each container running sshd on '
                  '127.0.0.1' if over_ssh else 'the ``containers.podman.podman`` connection as root')
    call_cost = ('one ssh session over the connection ControlPersist keeps open, which runs sudo and the module\'s '
                 'Python on the host' if over_ssh else
                 'six podman commands (a mount, then an exec each to find the home directory, make the temporary '
                 'directory, set its permissions, run the module and remove the directory), each starting the podman '
                 'client and, for an exec, a container runtime process')
    return '\n'.join([
        'Fleet scale', '-----------', '',
        '``benchmarks/fleet.py``: ``hypervisor.images.provision_hypervisor`` (``plan``: the images of a host in one '
        '``hypervisor.images.image_plan`` call) with a small plan on N podman containers from the molecule test '
        'image, reached with %s, at ``--forks N``: check mode on the fresh '
        'hosts, the first run that builds every image, and the re-run that finds nothing to do; beside it, in the '
        'same run, ``per-image``: the playbook as it was before, one module call per directory and per image '
        '(``benchmarks/per_image_playbook.yml``), and ``floor``: one ``ansible.builtin.ping`` per host '
        '(``benchmarks/floor_playbook.yml``). Median of %d rounds.' % (
            connection, protocol.get('repeat', REPEAT)),
        '', out.load(document), '', verdict, '', figure,
        'Median wall times, in seconds, with forks as many as hosts; each ratio is to one host of the same playbook '
        '("fails": the per-image playbook fails in check mode on a fresh host, its tasks miss what earlier tasks only '
        'pretended to create):', '',
        out.table(TIME_HEADER, _time_rows(every)),
        'What the no-change re-run cost: the module calls each host made, the CPU seconds of ``ansible-playbook`` '
        'and the %s commands it ran (the controller), the CPU seconds used inside the containers (their cgroups), and '
        'how busy the machine was meanwhile:' % ('ssh' if over_ssh else 'podman'), '',
        out.table(COST_HEADER, _cost_rows(every)),
        _bound_text(machine, call_cost, base_run, widest), '',
        'How it extends: raise ``forks`` (Ansible\'s default is 5) to the number of hosts the controller can '
        'drive at once; ``strategy: free`` lets each host run ahead instead of waiting for the slowest at every '
        'task; pipelining (``ANSIBLE_PIPELINING=true``) saves a file transfer per module over SSH (the podman '
        'connection cannot pipeline); ``throttle`` (``provision_convert_throttle``) and ``provision_serial`` bound '
        'what many hosts do at once to a shared image source. Mitogen is out of scope.'])
