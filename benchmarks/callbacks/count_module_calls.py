# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A callback for the fleet benchmark: how many module calls each host made (loop items one each).

Tasks that run on the controller only (set_fact, debug, assert, the
validation of a role's arguments that ansible-core inserts, ...) and skipped
tasks are not module calls. The counts are written as JSON to the file
named by BENCH_MODULE_CALLS when the playbook ends.
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

CONTROLLER_ONLY = frozenset(['set_fact', 'debug', 'assert', 'fail', 'meta', 'pause', 'add_host', 'group_by',
                             'include_tasks', 'import_tasks', 'include_role', 'import_role', 'include_vars',
                             'validate_argument_spec'])


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'count_module_calls'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.counts = {}

    def _count(self, result, item=False):
        task = result._task
        if task.action.rpartition('.')[2] in CONTROLLER_ONLY or (task.loop and not item):
            return
        host = result._host.get_name()
        self.counts[host] = self.counts.get(host, 0) + 1

    def v2_runner_on_ok(self, result):
        self._count(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result)

    def v2_runner_item_on_ok(self, result):
        self._count(result, item=True)

    def v2_runner_item_on_failed(self, result):
        self._count(result, item=True)

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('BENCH_MODULE_CALLS')
        if path:
            with open(path, 'w', encoding='utf-8') as handle:
                json.dump(self.counts, handle)
