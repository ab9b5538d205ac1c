# The two commands a clinic's operator needs: `make chat` and `make test` (see README.md).
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: chat run test lint bench check check-knowledge init-sheet report venv clean

INSTALL_LOG := $(VENV)/install.log
# Progress goes to stderr, so that `make chat` with piped input prints only the bot's replies on stdout.
SAY = echo >&2
# What an operator sees when the install fails; the whole output of pip stays in $(INSTALL_LOG).
INSTALL_FAILED = { $(SAY); $(SAY) "Установка не удалась. Последние строки журнала $(INSTALL_LOG):"; \
	tail -n 25 $(INSTALL_LOG) >&2; $(SAY); \
	$(SAY) "Проверьте подключение к интернету и версию Python (нужна 3.11 или новее: python3 --version),"; \
	$(SAY) "затем повторите команду. Если не помогло, пришлите файл $(INSTALL_LOG) разработчику."; \
	exit 1; }
NO_VENV = { $(SAY) "Не удалось создать $(VENV): нужен Python 3.11 или новее с модулем venv"; \
	$(SAY) "(Debian/Ubuntu: sudo apt install python3-venv). Затем повторите команду."; exit 1; }

# Quiet unless it fails: pip's and setuptools' notices (such as the "Editable installation" block) go
# to the log, not to an operator who would think something broke.
$(STAMP): pyproject.toml
	@test -x $(VPY) || { $(SAY) "Первый запуск: создаю окружение $(VENV)…"; $(PY) -m venv $(VENV) >/dev/null 2>&1 || $(NO_VENV); }
	@$(SAY) "Устанавливаю зависимости (1-2 минуты, журнал: $(INSTALL_LOG))…"
	@$(VPY) -m pip install --upgrade pip > $(INSTALL_LOG) 2>&1 || $(INSTALL_FAILED)
	@$(VPY) -m pip install -e '.[dev]' >> $(INSTALL_LOG) 2>&1 || $(INSTALL_FAILED)
	@touch $(STAMP)
	@$(SAY) "Зависимости установлены."

venv: $(STAMP)

chat: $(STAMP)
	@$(VPY) -m bot chat $(if $(USER_ID),--user $(USER_ID),)

run: $(STAMP)
	@$(VPY) -m bot run

check: $(STAMP)
	@$(VPY) -m bot check

# Only the files in knowledge/ and prompts/, no network: after editing FAQ, doctors or clinic facts.
check-knowledge: $(STAMP)
	@$(VPY) -m bot check --knowledge

init-sheet: $(STAMP)
	@$(VPY) -m bot init-sheet

# make report DAYS=30 OUT=отчет.png
report: $(STAMP)
	@$(VPY) -m bot report $(if $(DAYS),--days $(DAYS),) $(if $(OUT),--out '$(OUT)',)

lint: $(STAMP)
	$(VPY) -m ruff check bot sheets tests bench
	$(VPY) -m ruff format --check bot sheets tests bench
	$(VPY) -m mypy

test: $(STAMP) lint
	$(VPY) -m pytest

bench: $(STAMP)
	$(VPY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
