"""IML two-stage (Wang et al.): an autoencoder plus a learned base distribution: a GMM over digit
codes, an HMM over the codes of bars or audio frames.
"""
