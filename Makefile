# bsmount — make install | test | lint | demo | demo-stop | bench
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYS_PACKAGES := fuse3 libfuse3-dev pkg-config samtools bcftools tabix rsync python3-venv python3-dev gcc curl psmisc procps
PYTEST_ARGS ?=

.PHONY: install system-packages test lint demo demo-stop bench clean

install: system-packages $(STAMP)

system-packages:
	@missing=""; for p in $(SYS_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing system packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q $$missing >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null; } || exit 1; \
	  else \
	    echo "missing system packages; run as root:"; \
	    echo "  apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip >/dev/null
	$(VPY) -m pip install -q -e '.[emulator,test,dev]'
	@touch $(STAMP)

test: install
	$(VPY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

lint: install
	$(VENV)/bin/ruff check bsmount tests
	$(VENV)/bin/ruff format --check bsmount tests
	$(VENV)/bin/mypy

demo: install
	@$(VPY) -m bsmount.demo start

demo-stop:
	@$(VPY) -m bsmount.demo stop

bench: install
	@$(VPY) -m bsmount.bench $(if $(QUICK),--quick,)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
