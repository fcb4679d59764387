"""FactorGAN (Stoller et al. 2020): factorised discriminators that learn from unpaired data: paired
digits and source separation.
"""
