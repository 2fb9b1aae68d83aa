# -*- coding: utf-8 -*-
# Copyright (c) hypervisor.images contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every file system type shares: the FileSystem class the types derive from.

This is a private module of the hypervisor.images collection; it is not an API
for other collections and may change without notice.

A type is a subclass that sets the class attributes below and overrides the
methods where it differs. The ``*_argv`` methods only build command lines (the
tools' paths come from ``tools.path(name, package)``), so that tests pin them
and check mode reports them. Every label and UUID is passed as an option
argument or after ``--``, where no tool reads it as an option; what a tool
would still misread is refused in :meth:`FileSystem.label_problem`.
"""

from __future__ import annotations

import re

from ansible_collections.hypervisor.images.plugins.module_utils._filesystems.opts import opts_value
from ansible_collections.hypervisor.images.plugins.module_utils._run import TaskError
from ansible_collections.hypervisor.images.plugins.module_utils._units import human_and_bytes

UUID_RE = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
NIL_UUID = '00000000-0000-0000-0000-000000000000'
# Keywords that ask for a new UUID each time they are used; the others (clear, nil) ask for the nil UUID.
NEW_UUID_KEYWORDS = ('random', 'generate', 'time')
EXT_UUID_KEYWORDS = ('clear', 'random', 'time')


class FileSystem:
    """One ``fstype``: its tools, flags, limits and keywords, and the command lines that make, change and grow it."""

    #: the fstype value, and the mkfs tool and the package that provides it and the type's other tools
    name = None
    mkfs_tool = None
    package = None
    #: what blkid reports as TYPE for it (the name when empty); what it is (file system, area, ...)
    blkid_types = ()
    what = 'file system'
    #: how a finding of blkid is described when "a NAME file system" does not fit
    noun = None
    #: mkfs: options that set the label and the UUID (the first is used), fixed arguments, ``--`` before the device
    label_flags = ()
    label_max = None   # None: the type's own rule in label_problem limits the length
    uuid_flags = ()
    mkfs_args = ()
    dashdash = True
    #: mkfs: what lets it write over what a device carries; given only when force replaces something
    force_flags = ()
    #: the smallest device (bytes) mkfs makes it on with its default options, as measured with the tool or as the
    #: tool documents it; None when no limit is known. Checked before anything runs, in check mode too.
    min_size = None
    #: whether it can be made in a regular file (an image), not only on a block device
    regular_file = True
    #: UUID keywords mkfs takes, and those the UUID-changing tool takes for an existing one
    mkfs_uuid_keywords = ()
    uuid_keywords = ()
    uuid_example = 'a UUID such as 0b7e0ef0-1a51-4c47-9d4e-6c1d0a3e4b2f (for example from the to_uuid filter)'
    #: the tool that sets both label and UUID of an existing one, and its flags: TOOL [-L l] [-U u] DEV
    retune_tool = None
    retune_flags = ('-L', '-U')
    #: growth: supported at all; mounted use does not count as use; what grows it, when only mounted or unmounted
    grows = False
    grows_online = False
    grows_mounted_only = None
    grows_unmounted_only = None
    grow_hint = ''

    def __init__(self):
        if not self.blkid_types:
            self.blkid_types = (self.name,)

    @property
    def keywords(self):
        return tuple(sorted(set(self.mkfs_uuid_keywords) | set(self.uuid_keywords)))

    def tool(self, tools, name):
        """The path of this type's tool ``name``."""
        return tools.path(name, self.package)

    def dev_args(self, dev):
        return (['--'] if self.dashdash else []) + [dev]

    # -- parameters ------------------------------------------------------------

    def label_problem(self, label):
        """Why ``label`` cannot be the label of this type, or None."""
        if not self.label_flags:
            return 'a %s %s has no label; leave label out' % (self.name, self.what)
        if label == '':
            return 'the label is empty; leave label out to keep the current one'
        if any(ord(char) < 0x20 or ord(char) > 0x7e for char in label):
            return 'labels are limited to printable ASCII characters (blkid reports others escaped)'
        if self.label_max is not None and len(label.encode('utf-8')) > self.label_max:
            return '%s labels are at most %s characters; %r has %d' % (self.name, self.label_max, label, len(label))
        return None

    def relabel_problem(self, label):
        """Why ``label`` can be given when the file system is made, but not to an existing one, or None."""
        return None

    def create_problem(self, label, opts):
        """Why a new file system cannot be made with ``label`` and ``opts``, or None."""
        return None

    def smallest(self, opts):
        """The smallest device (bytes) mkfs makes this type on with ``opts``, or None when no limit is known."""
        return self.min_size

    def size_problem(self, size, opts):
        """Why mkfs cannot make this type on a device of ``size`` bytes with ``opts``, or None."""
        smallest = self.smallest(opts)
        if smallest is None or size >= smallest:
            return None
        article = 'an' if self.name[0] in 'aeiox' else 'a'
        return ('%s makes %s %s %s on %s or more only' % (self.mkfs_tool, article, self.name, self.what,
                                                          human_and_bytes(smallest)))

    def parse_uuid(self, text):
        """``text`` in the form blkid reports, or None when it is not a UUID of this type."""
        return text.lower() if UUID_RE.match(text.lower()) else None

    def normalize_uuid(self, uuid):
        """``uuid`` in the form blkid reports it; a keyword as it is; ValueError when it is neither."""
        text = str(uuid).strip()
        if text.lower() in self.keywords:
            return text.lower()
        found = self.parse_uuid(text)
        if found:
            return found
        example = self.uuid_example
        if self.keywords:
            example += ', or one of the keywords %s' % ', '.join(self.keywords)
        raise ValueError('give %s' % example)

    def reported_uuid(self, uuid):
        """The UUID blkid reported, in the form :meth:`normalize_uuid` gives (as it is when it is no UUID)."""
        if not uuid:
            return None
        try:
            return self.normalize_uuid(uuid)
        except ValueError:
            return uuid

    def uuid_change(self, uuid, current):
        """The UUID (or keyword) to give a file system whose UUID is ``current``; None when it has ``uuid``."""
        if uuid is None:
            return None
        if uuid in NEW_UUID_KEYWORDS:
            return uuid  # a new one on every run, as asked
        if uuid in ('clear', 'nil'):
            return uuid if current not in (None, NIL_UUID) else None
        return uuid if uuid != current else None

    def opts_label(self, opts):
        """The label ``opts`` give mkfs, or None."""
        return opts_value(opts, self.label_flags) if self.label_flags else None

    def opts_uuid(self, opts):
        """The UUID (or keyword) ``opts`` give mkfs, or None."""
        return opts_value(opts, self.uuid_flags) if self.uuid_flags else None

    def with_opts(self, label, uuid, opts):
        """(label, uuid, UUID in opts, warnings) once ``opts`` are read: a label or UUID in opts wins.

        So it is in community.general.filesystem. A UUID (or keyword) in opts
        is for mkfs: it is returned apart and does not ask to change the UUID
        of an existing file system.
        """
        warnings = []
        in_opts = self.opts_label(opts)
        if in_opts is not None:
            if label is not None and label != in_opts:
                warnings.append('opts sets the label to %r, which wins over label (%r).' % (in_opts, label))
            label = in_opts
        in_opts = self.opts_uuid(opts)
        if in_opts is None:
            return label, uuid, None, warnings
        try:
            same = self.normalize_uuid(in_opts) == uuid
        except ValueError:
            same = False
        if uuid is not None and not same:
            warnings.append('opts sets the UUID to %r, which wins over uuid (%r).' % (in_opts, uuid))
        return label, None, in_opts, warnings

    def predicted_uuid(self, uuid, opts_uuid):
        """The UUID a new file system gets from ``uuid`` or the UUID in opts, or None when mkfs makes one up."""
        if uuid is not None and uuid not in self.keywords:
            return uuid
        if opts_uuid is not None and opts_uuid not in self.keywords:
            try:
                return self.normalize_uuid(opts_uuid)
            except ValueError:
                return None  # mkfs will say what is wrong with it
        return None

    # -- making it -------------------------------------------------------------

    def mkfs_takes_uuid(self, uuid):
        """Whether mkfs itself sets ``uuid`` (a real one, or a keyword of its own)."""
        return bool(self.uuid_flags) and (uuid not in self.keywords or uuid in self.mkfs_uuid_keywords)

    def uuid_after_mkfs(self, uuid):
        """Whether ``uuid`` is set after mkfs with the UUID-changing tool (a nil keyword mkfs does not take)."""
        return uuid is not None and not self.mkfs_takes_uuid(uuid) and uuid not in NEW_UUID_KEYWORDS

    def mkfs_file_args(self, regular_file):
        """Arguments mkfs needs when it writes to an image file rather than a device."""
        return []

    def mkfs_uuid_args(self, uuid):
        return [self.uuid_flags[0], uuid]

    def mkfs_argv(self, tools, dev, label=None, uuid=None, opts=(), regular_file=False, force=False):
        """The mkfs command line; ``opts`` come last before the device, so that they can override defaults.

        ``uuid`` is given to mkfs only when it takes it (a UUID, or one of its keywords). ``force`` adds the
        tool's own flags for writing over what the device carries.
        """
        argv = [self.tool(tools, self.mkfs_tool)] + list(self.mkfs_args) + (list(self.force_flags) if force else [])
        argv += self.mkfs_file_args(regular_file)
        if label is not None:
            argv += [self.label_flags[0], label]
        if uuid is not None and self.mkfs_takes_uuid(uuid):
            argv += self.mkfs_uuid_args(uuid)
        return argv + list(opts) + self.dev_args(dev)

    # -- changing an existing one ----------------------------------------------

    def relabel_argvs(self, tools, dev, label=None, uuid=None, probe=None):
        """Command lines that set the label and/or UUID of the existing, unmounted file system on ``dev``, in order.

        ``probe`` is what blkid found there. Raises ValueError for what no tool here can change.
        """
        if label is None and uuid is None:
            return []
        if self.retune_tool:
            label_flag, uuid_flag = self.retune_flags
            argv = [self.tool(tools, self.retune_tool)]
            if label is not None:
                argv += [label_flag, label]
            if uuid is not None:
                argv += [uuid_flag, uuid]
            return [argv + self.dev_args(dev)]
        argvs = []
        if label is not None:
            argvs.append(self.label_argv(tools, dev, label))
        if uuid is not None:
            argvs.append(self.uuid_argv(tools, dev, uuid))
        return argvs

    def label_argv(self, tools, dev, label):
        raise ValueError('a %s %s has no label' % (self.name, self.what))

    def uuid_argv(self, tools, dev, uuid):
        raise ValueError('the UUID of an existing %s %s cannot be changed by this module' % (self.name, self.what))

    # -- size and growth -------------------------------------------------------

    def read_geometry(self, tools, dev, mounts):
        """What this module reads of the file system on ``dev`` (an object with ``size``), or None.

        ``mounts()`` gives the (device, mount point) pairs it is mounted from.
        """
        return None

    def grown_size(self, dev, geometry, device_size):
        """The size the grow command gives the file system on a device of ``device_size`` bytes."""
        return geometry.grown_size(device_size)

    def mounted_grow_problem(self, dev, mount_point):
        """Why the file system mounted on ``mount_point`` cannot grow now, or None."""
        if self.grows_unmounted_only:
            return ('The %s %s on %s is mounted on %s; %s grows it only while unmounted. Unmount it and run this task '
                    'again.' % (self.name, self.what, dev, mount_point, self.grows_unmounted_only))
        return None

    def unmounted_grow_problem(self, dev, current, target):
        """Why the unmounted file system (of ``current`` bytes, ``target`` once grown) cannot grow now, or None."""
        if self.grows_mounted_only:
            return ('The %s %s on %s is %s and could grow to %s, but %s grows only while mounted. Mount it (an image '
                    'file with mount -o loop) and run this task again, or leave resizefs out.'
                    % (self.name, self.what, dev, human_and_bytes(current), human_and_bytes(target),
                       self.grows_mounted_only))
        return None

    def grow_argv(self, tools, dev, device, mount_point, geometry, probe):
        """The command that grows the file system on ``dev`` through ``device`` (mounted on ``mount_point``)."""
        raise TaskError('resizefs: growing an existing %s %s is not supported by this module.'
                        % (self.name, self.what), path=dev)
