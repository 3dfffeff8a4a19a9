# optout-bot: every task a developer or CI runs. `make help` lists them.
# Everything is set up on first use: the virtual environment in .venv comes from pyproject.toml.

ROOT := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT).venv
PY := $(VENV)/bin/python
# checkov pins a boto3 older than the project's, so it has a virtual environment of its own.
CHECKOV_VENV := $(ROOT).venv-checkov
PORT ?= 3000
DEMO ?= 1
# The Lambda runtime in template.yaml, for which the dependencies layer is built.
LAMBDA_PYTHON := 3.13
LAMBDA_PLATFORM := manylinux2014_aarch64
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := help
.PHONY: help venv checkov-venv chromium axe test typecheck lint fuzz fuzz-api run smoke build bench messages clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-13s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## Create .venv with the project and its dev tools

# In two steps, so that `make run` on a fresh clone waits only for what the stack runs on.
$(VENV)/.runtime: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e . --group local
	touch $@

$(VENV)/.installed: $(VENV)/.runtime
	$(PY) -m pip install --quiet -e . --group dev
	touch $@

checkov-venv: $(CHECKOV_VENV)/.installed ## Create .venv-checkov with checkov (its own boto3)

$(CHECKOV_VENV)/.installed: pyproject.toml
	test -x $(CHECKOV_VENV)/bin/python || python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --group "$(ROOT)pyproject.toml:checkov"
	touch $@

# The browser test drives Debian's chromium (never Playwright's downloads); CI runs as root.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
chromium: ## Install Debian's chromium for the browser test, if it is missing
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

# axe-core, which the browser test loads into each page, at the version package-lock.json pins.
axe: node_modules/.installed ## Install axe-core (npm ci, the version package-lock.json pins) for the browser test

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm; }
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

test: venv checkov-venv chromium axe ## Lint and type-check, then the whole test suite (unit, integration, local stack and browser, template build)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(MAKE) --no-print-directory typecheck
	$(PY) -m pytest

typecheck: venv ## mypy --strict over the layer, local/ and bench/, then each function's handler on its own
	$(PY) -m mypy
	@for handler in functions/*/app.py; do $(PY) -m mypy "$$handler" || exit 1; done

lint: venv checkov-venv ## ruff, mypy (strict, the whole tree), cfn-lint (+ serverless rules), sam validate --lint, checkov
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(MAKE) --no-print-directory typecheck
	@# .cfnlintrc appends the serverless rules (cfn-lint-serverless).
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/sam validate --lint --template template.yaml
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

# atheris (libFuzzer) over each parser; `make test` runs 10,000 seeded runs a target, this many more.
FUZZ_RUNS ?= 200000
FUZZ_OUT := $(ROOT)test-artifacts/fuzz
fuzz: venv ## atheris over every parser, 200,000 runs each (FUZZ_RUNS=N); logs and crashes in test-artifacts/fuzz
	@mkdir -p $(FUZZ_OUT)
	@for target in $$($(PY) -m tests.fuzz.atheris_targets --list 2>/dev/null); do \
		corpus=$$(mktemp -d) && \
		$(PY) -m tests.fuzz.atheris_targets $$target -runs=$(FUZZ_RUNS) \
			-artifact_prefix=$(FUZZ_OUT)/ $$corpus > $(FUZZ_OUT)/$$target.log 2>&1; status=$$?; \
		rm -rf "$$corpus"; \
		printf '%-17s %s\n' $$target "$$(grep -E '^Done [0-9]+ runs' $(FUZZ_OUT)/$$target.log)"; \
		grep -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ_OUT)/$$target.log | sed 's/^/                  /'; \
		if [ $$status -ne 0 ]; then tail -40 $(FUZZ_OUT)/$$target.log; exit $$status; fi; \
	done

# schemathesis against a local stack of its own; `make test` runs 20 examples an operation.
FUZZ_API_EXAMPLES ?= 500
FUZZ_API_SECONDS ?= 600
fuzz-api: venv ## schemathesis over every route, 500 examples each, rounds for 10 min; log in test-artifacts/schemathesis.log
	OPTOUT_FUZZ_EXAMPLES=$(FUZZ_API_EXAMPLES) OPTOUT_FUZZ_SECONDS=$(FUZZ_API_SECONDS) \
		$(PY) -m pytest -p no:cacheprovider -s tests/e2e/test_openapi_fuzz.py

run: $(VENV)/.runtime ## The local stack on http://127.0.0.1:$(PORT) (PORT=3100, DEMO=0 to start empty)
	$(PY) -m local --port $(PORT) $(if $(filter 0,$(DEMO)),--no-demo,)

# After `sam deploy`: URL is its ApiUrl output; TOKEN and WEBHOOK_SECRET are the values of the
# AdminTokenSecret and WebhookSigningSecret secrets (or OPTOUT_ADMIN_TOKEN, OPTOUT_WEBHOOK_SECRET).
smoke: $(VENV)/.runtime ## The whole path on a deployed stack, SES's test recipients only (URL=... TOKEN=... WEBHOOK_SECRET=...)
	@test -n "$(URL)" || { echo "usage: make smoke URL=https://... TOKEN=... WEBHOOK_SECRET=whsec_..."; exit 2; }
	$(VENV)/bin/optout --url "$(URL)" $(if $(TOKEN),--token "$(TOKEN)") \
		$(if $(WEBHOOK_SECRET),--webhook-secret "$(WEBHOOK_SECRET)") smoke

build: venv ## sam build: functions and layers for Lambda, into .aws-sam/build
	$(VENV)/bin/sam build --template template.yaml

# The full run's sizes; `make bench FANOUT_SIZES=10000 LOAD_SUBSCRIBERS=3000` is a smaller one.
FANOUT_SIZES ?= 10000,100000
LOAD_SUBSCRIBERS ?= 100000
bench: venv ## Fan-out, sender, load, cold-start and summary benchmarks on the local moto stack; writes BENCHMARKS.md
	@# One fresh directory per run: the summary reads only figures measured in this run.
	results=$$(mktemp -d) && export OPTOUT_BENCH_RESULTS=$$results && \
	$(PY) -m bench.fanout --sizes $(FANOUT_SIZES) && \
	$(PY) -m bench.sender && \
	$(PY) -m bench.load --subscribers $(LOAD_SUBSCRIBERS) && \
	$(PY) -m bench.subscribe_timing && \
	$(PY) -m bench.coldstart && \
	$(PY) -m bench.summary; status=$$?; rm -rf "$$results"; exit $$status

LOCALES := layers/optout/python/optout/locales
messages: venv ## After changing a template or a catalogue: extract, merge into every catalogue, compile, record the consent wording
	$(VENV)/bin/pybabel -q extract -F babel.cfg -o $(LOCALES)/messages.pot --no-location --omit-header .
	$(VENV)/bin/pybabel -q update -i $(LOCALES)/messages.pot -d $(LOCALES) --no-fuzzy-matching --ignore-obsolete
	@# The pages read the compiled catalogues (messages.mo): compiling one at a cold start is slow.
	$(VENV)/bin/pybabel -q compile -d $(LOCALES)
	@# A changed consent wording of the form is a new version: its text is kept for good.
	PYTHONPATH=layers/optout/python $(PY) -m optout.messages.consent

clean: ## Remove the virtual environment and build output
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache

# ---------------------------------------------------------------------------------------------
# Called by `sam build` (BuildMethod: makefile). Each runs in a scratch copy of the resource's
# CodeUri/ContentUri with ARTIFACTS_DIR set; none needs Python 3.13 or Docker on this machine.

build-DependenciesLayer:
	$(PY) -c 'import tomllib; print("\n".join(tomllib.load(open("$(ROOT)pyproject.toml", "rb"))["project"]["dependencies"]))' > requirements.txt
	$(PY) -m pip install --quiet --no-compile --ignore-installed --target "$(ARTIFACTS_DIR)/python" \
		--platform $(LAMBDA_PLATFORM) --implementation cp --python-version $(LAMBDA_PYTHON) \
		--only-binary=:all: -r requirements.txt

build-SharedLayer:
	mkdir -p "$(ARTIFACTS_DIR)/python"
	cp -R python/optout "$(ARTIFACTS_DIR)/python/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +

build-%Function:
	cp *.py "$(ARTIFACTS_DIR)/"
