"""AR-VAE (Pati & Lerch 2020): a MeasureVAE whose regularised latent dimensions order bars by their
attributes.
"""
