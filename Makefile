.PHONY: test bench quickstart

test:
	bash scripts/test.sh

bench:
	bash bench/run.sh

quickstart:
	bash scripts/quickstart.sh
