.PHONY: test bench quickstart docs

test:
	bash scripts/test.sh

bench:
	bash bench/run.sh

quickstart:
	bash scripts/quickstart.sh

docs:
	bash scripts/docs.sh
