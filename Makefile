# hypervisor.images: set-up, tests and demo.
#
#   make demo   run playbooks/demo.yml on localhost (builds its own small images)
#   make test   install what is missing, then lint, sanity, docs lint, unit,
#               integration and molecule tests; stops at the first failure
#
# Both install the Debian packages they need (as root, with apt-get) and a
# pinned Python virtual environment in .venv on first use.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= /usr/bin/python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
BUILD ?= $(CURDIR)/.build
COLLECTION := $(BUILD)/ansible_collections/hypervisor/images
ANSIBLE_TEST_PYTHON := 3.11

# Ansible's interpreter discovery can pick a broken pyenv shim; name the interpreter.
export ANSIBLE_PYTHON_INTERPRETER := $(BIN)/python
export ANSIBLE_COLLECTIONS_PATH := $(BUILD)
export ANSIBLE_NOCOLOR := 1
export ANSIBLE_FORCE_COLOR := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Podman settings for the molecule scenarios (runc, ulimits); nothing global is changed.
export CONTAINERS_CONF := $(CURDIR)/tests/setup/containers.conf

.PHONY: help demo test deps system-deps venv stage test-image lint sanity docs-lint pytest units integration bench clean

help:
	@echo "make demo   run the demo playbook on localhost"
	@echo "make test   run every check and test (lint, sanity, docs, unit, integration, molecule)"
	@echo "helpers:    deps lint sanity docs-lint units integration bench clean"

# --- set-up -------------------------------------------------------------

system-deps:
	@PYTHON=$(PYTHON) tests/setup/system-deps.sh

$(VENV)/.installed: requirements-dev.txt | system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing pinned Python tools into .venv"
	@$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | { grep -v "^WARNING: Location .file:" || true; }
	@$(BIN)/python -m pip install --quiet --requirement requirements-dev.txt 2>&1 | { grep -v "^WARNING: Location .file:" || true; }
	@touch $@

venv: $(VENV)/.installed

# ansible-test's pip bootstrap script lives under ~/.ansible, outside the venv.
deps: system-deps venv
	@$(BIN)/python tests/setup/install-pip-bootstrap.py

stage: deps
	@$(BIN)/python tests/setup/stage.py $(CURDIR) $(BUILD) >/dev/null

# The container image of the molecule scenarios, built once and kept by podman.
test-image: system-deps
	@tests/setup/build-test-image.sh

# --- user-facing --------------------------------------------------------

demo: stage
	cd $(COLLECTION) && $(BIN)/ansible-playbook -i localhost, -c local playbooks/demo.yml

test: stage
	@$(MAKE) --no-print-directory lint sanity docs-lint pytest

# --- checks -------------------------------------------------------------

lint: stage
	cd $(CURDIR) && PATH=$(BIN):$$PATH $(BIN)/ansible-lint --profile production --strict
	cd $(COLLECTION) && $(BIN)/antsibull-changelog lint

sanity: stage
	cd $(COLLECTION) && PATH=$(BIN):$$PATH $(BIN)/ansible-test sanity --python $(ANSIBLE_TEST_PYTHON) --color no

docs-lint: stage
	cd $(COLLECTION) && PATH=$(BIN):$$PATH $(BIN)/antsibull-docs lint-collection-docs --plugin-docs .

# Unit, integration and molecule tests in one pytest run, so its closing
# summary line is the last thing make test prints. --rootdir: pytest-ansible
# looks for molecule scenarios under the root directory.
pytest: stage test-image
	cd $(COLLECTION) && PATH=$(BIN):$$PATH $(BIN)/python -m pytest --rootdir . tests/unit tests/integration

units: stage
	cd $(COLLECTION) && PATH=$(BIN):$$PATH $(BIN)/python -m pytest tests/unit

integration: stage test-image
	cd $(COLLECTION) && PATH=$(BIN):$$PATH $(BIN)/python -m pytest --rootdir . tests/integration

# BENCH=name runs one benchmark; results go to benchmarks/results of this checkout.
bench: stage
	cd $(COLLECTION) && PATH=$(BIN):$$PATH BENCH_RESULTS=$(CURDIR)/benchmarks/results $(BIN)/python -m benchmarks $(BENCH)

clean:
	rm -rf $(BUILD) tests/output .pytest_cache .hypothesis
