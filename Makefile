# `make demo` and `make test` work on a fresh machine with Python >= 3.10 (3.11 preferred).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt
DEMO_RUN := runs/demo
# the demo trains the quick AR-VAE for 2,000 of its 6,000 steps, with no time budget (about
# 5 minutes on 2 idle cores; its report says how far it got)
DEMO_SETS := --set train.max_steps=2000 --set train.max_minutes=inf

.PHONY: install install-dev demo fig3 fig8 pretrained test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $@

install-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev]'
	touch $@

demo: install
	rm -rf $(DEMO_RUN) && mkdir -p runs && date +%s > runs/demo.started
	$(BIN)/fugato data build oneills
	$(BIN)/fugato data build ryans
	$(BIN)/fugato train configs/arvae-folk-quick.toml --run-dir $(DEMO_RUN) $(DEMO_SETS)
	$(BIN)/fugato eval $(DEMO_RUN)
	$(BIN)/fugato arvae traverse $(DEMO_RUN) --random --seed 3 --out $(DEMO_RUN)/traversals \
	  --attribute rhythmic_complexity pitch_range note_density contour --quiet
	$(BIN)/fugato sample $(DEMO_RUN) -n 8 --out $(DEMO_RUN)/samples
	@echo
	@echo "Attribute traversals: $(DEMO_RUN)/traversals/*.mid and *.png (one per attribute)"
	@echo "Prior samples:        $(DEMO_RUN)/samples/*.mid"
	@echo "Report:               $(DEMO_RUN)/report.md (plots in $(DEMO_RUN)/plots/)"
	@$(BIN)/python -c "import json, time; r = json.load(open('$(DEMO_RUN)/eval.json')); \
	  s = time.time() - int(open('runs/demo.started').read()); \
	  print(f'Demo done in {s // 60:.0f} min {s % 60:.0f} s: trained {r[\"steps_done\"]:,} of ' \
	        f'{r[\"steps_planned\"]:,} steps; Interpretability {r[\"interpretability\"]:.3f}, ' \
	        f'reconstruction {r[\"recon_accuracy\"]:.1%} of held-out tokens')"

# Figs. 3 and 4 of Pati & Lerch 2020: AR-VAE against beta-VAE over seeds on its four data sets
# (folk, Bach, dSprites, Morpho-MNIST), box plots of every metric (comparison.png) and the five
# metrics against each other, a point per run (pairs.png); hours on 2 cores.
fig3: install
	$(BIN)/fugato data build oneills
	$(BIN)/fugato data build ryans
	$(BIN)/fugato data build bach-soprano
	$(BIN)/fugato seeds configs/arvae-folk-quick.toml configs/betavae-folk-quick.toml \
	  configs/arvae-bach-quick.toml configs/betavae-bach-quick.toml \
	  configs/arvae-dsprites-quick.toml configs/betavae-dsprites-quick.toml \
	  configs/arvae-mnist-quick.toml configs/betavae-mnist-quick.toml \
	  --seeds 0 1 2 --jobs 2 --out runs/fig3 --pairs interpretability modularity mig sap scc

# the paper's Fig. 8 on Morpho-MNIST: AR-VAE over gamma x delta with beta 1, and the beta-VAE
# (beta 4) for reference, on a shortened schedule (600 steps at a constant Adam 1e-3, seed 0);
# trade-off.png plots each point
fig8: install
	$(BIN)/fugato seeds configs/arvae-mnist-quick.toml --seeds 0 --out runs/fig8 \
	  --set net.beta=1 --set train.max_steps=600 --set sample.classifier_steps=600 \
	  --set train.lr_schedule=constant \
	  --variant g0.1-d1:net.gamma=0.1,net.delta=1 --variant g0.1-d10:net.gamma=0.1,net.delta=10 \
	  --variant g1-d1:net.gamma=1,net.delta=1 --variant g1-d10:net.gamma=1,net.delta=10 \
	  --variant g10-d1:net.gamma=10,net.delta=1 --variant g10-d10:net.gamma=10,net.delta=10 \
	  --variant beta-vae:net.gamma=0,net.beta=4 \
	  --trade-off recon_accuracy interpretability

# the trained models shipped in fugato/pretrained/ (each trained from its config on one
# thread, so that the same machine rebuilds the same weights); rebuild rarely, since each
# rebuild adds their size to the repository
pretrained: install
	$(BIN)/python -m fugato.pretrained.build

# the suite in TEST_JOBS processes, whole files to each (their module fixtures build once)
TEST_JOBS ?= 2
test: install-dev
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile

lint: install-dev
	$(BIN)/ruff check .

bench: install
	$(BIN)/python benchmarks/corpus_build.py
	$(BIN)/python benchmarks/attributes.py

clean:
	rm -rf $(VENV) runs *.egg-info
