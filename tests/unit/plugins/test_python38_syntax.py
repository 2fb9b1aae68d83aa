# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Modules and module_utils run on managed hosts with Python 3.8: keep their syntax to 3.8."""

from __future__ import annotations

import ast
import glob
import os

import pytest

PLUGINS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FILES = sorted(glob.glob(os.path.join(PLUGINS, 'plugins', 'modules', '*.py'))
               + glob.glob(os.path.join(PLUGINS, 'plugins', 'module_utils', '**', '*.py'), recursive=True))


@pytest.mark.parametrize('path', FILES, ids=os.path.basename)
def test_parses_as_python_3_8(path):
    with open(path, encoding='utf-8') as handle:
        ast.parse(handle.read(), filename=path, feature_version=(3, 8))


def test_files_were_found():
    assert len(FILES) >= 4
