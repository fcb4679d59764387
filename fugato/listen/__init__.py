"""Blind listening tests, after the FusionGAN (Table II) and dual music-dance (Table 3)
protocols: `fugato listen create` renders a test (`build`, `ranking`), `fugato studio` serves
it at `/listen/NAME` (`routes`), answers go to SQLite (`answers`), and `fugato listen results`
computes the papers' tables (`results`). The test's files: `design`.
"""
