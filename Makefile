# channels-stack: `make run` to try it, `make test` to prove it. See README.md.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(abspath $(VENV))/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
REQ    := app/requirements
OPS_REQ := ops
# make stack: the production topology on loopback (see ops/README.md)
STACK_DIR  ?= $(CURDIR)/.stack
STACK_PORT ?= 8080
DAPHNE     ?= 2
# Lock against PyPI only, whatever pip config the machine has, so hashes are PyPI's.
LOCK_ENV := PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= PIP_EXTRA_INDEX_URL= PIP_INDEX_URL=https://pypi.org/simple
COMPILE  := $(LOCK_ENV) $(abspath $(VENV))/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
            --no-emit-index-url --no-emit-find-links --resolver=backtracking

.PHONY: help venv ops run stack stack-manage stack-ctl configs bench bench-full audit test lint unit molecule argument-specs lock upgrade clean
help:
	@echo "make run      start the app on http://$(HOST):$(PORT) (SQLite, in-memory layer, demo users)"
	@echo "make stack [VARS='my-vars.yml']   nginx + $(DAPHNE) daphne + gunicorn/uvicorn + Redis + PostgreSQL on http://127.0.0.1:$(STACK_PORT)"
	@echo "make stack-manage ARGS='createsuperuser'   any manage.py command against the running stack"
	@echo "make stack-ctl ARGS='status'   the running stack's processes (restart daphne1, stop nginx, tail -f http)"
	@echo "make configs OUT=dir VARS='my-vars.yml secrets.yml'   nginx/, systemd/ and app.env for a server"
	@echo "make bench    the benchmark suite, quick (1,000 sockets, a few minutes): bench/results/quick/results.md"
	@echo "make bench-full [PROFILE=1]   the whole suite (10,000 sockets, ~20 min; py-spy profile): bench/results/full/"
	@echo "make audit    known vulnerabilities in every locked requirement (pip-audit; needs PyPI's JSON API)"
	@echo "make ops      Ansible + the renderer in $(VENV)/ops, for provisioning servers (ansible/README.md)"
	@echo "make unit     the tests that start nothing (no server, container, host or command): ~30 s"
	@echo "make lint     ruff, migrations, argument specs, yamllint, ansible-lint (production profile)"
	@echo "make test     lint + every test (unit, live, end-to-end through nginx, headless Chromium, molecule)"
	@echo "make molecule [SCENARIO=full]   the Ansible roles on podman hosts with systemd (all scenarios, or one)"
	@echo "make lock     re-resolve $(REQ)/*.txt after editing a .in file"
	@echo "make upgrade  upgrade every pinned dependency to its newest allowed version"

# Every venv of the project is made the same way: the machine's python3 -m venv, then the locked
# pip (its pip.in says why: an older pip refuses some hashed locks), then the venv's own lock.
# pip prints each package as it goes: the first dev install takes a minute or two.
PIP_LOCK := $(REQ)/pip.txt
# $(call install_lock,venv directory,lock file)
define install_lock
	@echo "==> $(2) -> $(1) (pip first, then every locked package; about a minute the first time)"
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r $(PIP_LOCK)
	$(1)/bin/python -m pip install --disable-pip-version-check --require-hashes -r $(2)
endef

$(VENV)/.base-installed: $(REQ)/base.txt $(PIP_LOCK)
	$(call install_lock,$(VENV),$(REQ)/base.txt)
	touch $@

$(VENV)/.dev-installed: $(REQ)/dev.txt $(PIP_LOCK)
	$(call install_lock,$(VENV),$(REQ)/dev.txt)
	touch $@ $(VENV)/.base-installed

# The renderer alone (Jinja2, PyYAML) in a venv of its own: `make configs` needs nothing else.
RENDER_PY := $(abspath $(VENV))/render/bin/python
$(VENV)/render/.installed: ops/render-requirements.txt $(PIP_LOCK)
	$(call install_lock,$(VENV)/render,ops/render-requirements.txt)
	touch $@

# The operator's tools: Ansible (with the collections the roles use), the renderer and the
# local stack's supervisor, without the app's or the tests' packages (ansible/README.md).
OPS_VENV := $(VENV)/ops
$(OPS_VENV)/.installed: ops/requirements.txt $(PIP_LOCK)
	$(call install_lock,$(OPS_VENV),ops/requirements.txt)
	touch $@

# checkov (tests/terraform) in a venv of its own: its pins (packaging<24) clash with the dev set.
CHECKOV := $(VENV)/checkov/bin/checkov
$(CHECKOV): terraform/requirements.txt $(PIP_LOCK)
	$(call install_lock,$(VENV)/checkov,terraform/requirements.txt)
	touch $@

venv: $(VENV)/.base-installed

ops: $(OPS_VENV)/.installed
	@echo "Ansible and the renderer are in $(OPS_VENV): . $(OPS_VENV)/bin/activate, then see ansible/README.md"

run: $(VENV)/.base-installed
	cd app && $(PY) manage.py migrate --verbosity 0   # creates the token cache table too
	cd app && $(PY) manage.py seed_demo
	@echo ""
	@echo "  Demo page:  http://$(HOST):$(PORT)/   (log in with a user above; open a second window as another user)"
	@echo "  Health:     http://$(HOST):$(PORT)/api/websocket/health/"
	@echo "  Admin:      http://$(HOST):$(PORT)/admin/   (create a login: cd app && ../$(VENV)/bin/python manage.py createsuperuser)"
	@echo "  Diagnose:   cd app && ../$(VENV)/bin/python manage.py wsdoctor http://$(HOST):$(PORT)"
	@echo ""
	cd app && $(PY) manage.py runserver $(HOST):$(PORT)

stack: $(VENV)/.dev-installed
	$(PY) -m ops.stack --dir $(STACK_DIR) up --port $(STACK_PORT) --daphne $(DAPHNE) $(foreach file,$(VARS),--vars $(file))

stack-manage: $(VENV)/.dev-installed
	$(PY) -m ops.stack --dir $(STACK_DIR) manage $(ARGS)

stack-ctl: $(VENV)/.dev-installed
	$(PY) -m ops.stack --dir $(STACK_DIR) ctl $(ARGS)

# Server configs (python -m ops.render); not Render.com, whose blueprint is render.yaml.
configs: $(VENV)/render/.installed
	@test -n "$(OUT)" || { echo "usage: make configs OUT=dir [VARS='my-vars.yml secrets.yml'] [TARGETS='nginx systemd env']"; exit 2; }
	$(RENDER_PY) -m ops.render --out $(OUT) $(foreach file,$(VARS),--vars $(file)) $(TARGETS)

# Figures as ratios to a bare websockets server and to the default configuration, measured
# in the same run; nothing about times is asserted (CI runs `make bench` to prove it works).
bench: $(VENV)/.dev-installed
	$(PY) -m bench.run --quick

# Known vulnerabilities in every locked requirement (pip-audit asks PyPI's per-release JSON API).
# --strict: a dependency it could not look up fails the audit instead of passing unaudited.
audit: $(VENV)/.dev-installed
	for lock in app/requirements/base.txt app/requirements/dev.txt ops/requirements.txt terraform/requirements.txt; do \
	  $(abspath $(VENV))/bin/pip-audit --strict --disable-pip --require-hashes --progress-spinner off -r $$lock || exit 1; \
	done

bench-full: $(VENV)/.dev-installed
	$(PY) -m bench.run --full $(if $(PROFILE),--profile)

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	cd app && $(PY) manage.py makemigrations --check --dry-run --verbosity 0
	$(PY) -m ops.argument_specs --check
	cd ansible && PATH=$(abspath $(VENV))/bin:$$PATH $(abspath $(VENV))/bin/yamllint --strict .
	cd ansible && PATH=$(abspath $(VENV))/bin:$$PATH $(abspath $(VENV))/bin/ansible-lint --strict

argument-specs: $(VENV)/.dev-installed
	$(PY) -m ops.argument_specs

molecule: $(VENV)/.dev-installed
	$(PY) -m pytest tests/molecule $(if $(SCENARIO),-k "$(SCENARIO)")

test: lint $(CHECKOV)
	$(PY) -m pytest --durations=40

# The tests that start nothing: no server, container, host or command (tests/conftest.py marks the
# system suites; a test that runs a command is marked `process`, a fuzzer `fuzz`). Every pytest run
# fails an unmarked test that starts a process (ops.testing.no_processes), so the promise stays true.
unit: $(VENV)/.dev-installed
	$(PY) -m pytest -m "not process and not fuzz and not live and not e2e and not browser and not molecule and not containers and not infra"

$(VENV)/bin/pip-compile: $(VENV)/.dev-installed

# ops' lock first: dev.in is constrained by it, so the tooling has one set of pins.
lock: $(VENV)/bin/pip-compile
	cd $(REQ) && $(COMPILE) -o base.txt base.in
	cd $(OPS_REQ) && $(COMPILE) -o requirements.txt requirements.in
	cd $(OPS_REQ) && $(COMPILE) -o render-requirements.txt render-requirements.in
	cd $(REQ) && $(COMPILE) -o dev.txt dev.in
	cd $(REQ) && $(COMPILE) -o pip.txt pip.in
	cd terraform && $(COMPILE) -o requirements.txt requirements.in

upgrade: $(VENV)/bin/pip-compile
	cd $(REQ) && $(COMPILE) --upgrade -o base.txt base.in
	cd $(OPS_REQ) && $(COMPILE) --upgrade -o requirements.txt requirements.in
	cd $(OPS_REQ) && $(COMPILE) -o render-requirements.txt render-requirements.in
	cd $(REQ) && $(COMPILE) --upgrade -o dev.txt dev.in
	cd $(REQ) && $(COMPILE) --upgrade -o pip.txt pip.in
	cd terraform && $(COMPILE) --upgrade -o requirements.txt requirements.in

clean:
	rm -rf $(VENV) app/staticfiles .pytest_cache
