# The two commands of the README: `make run` and `make test`. Both create .venv when missing.
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: run test test-long bench lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: an unpinned torch pulls a ~3 GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test,bench,dev]"
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/briefbot ingest samples
	$(VENV)/bin/briefbot ask "What did Xi commit to?"
	@if [ -n "$$BRIEFBOT_TELEGRAM_TOKEN" ] || grep -qs '^BRIEFBOT_TELEGRAM_TOKEN=..*' .env; then \
		echo "starting the Telegram bot (Ctrl-C stops it)"; $(VENV)/bin/briefbot serve; \
	else echo "(set BRIEFBOT_TELEGRAM_TOKEN in the environment or .env to start the Telegram bot)"; fi

test: $(VENV)/.installed
	$(VENV)/bin/pytest -q

test-long: $(VENV)/.installed
	$(VENV)/bin/pytest -q --slow

bench: $(VENV)/.installed
	$(PY) -m bench

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check bot index tests bench
	$(VENV)/bin/mypy

clean:
	rm -rf .briefbot
