"""FusionGAN (Chen et al. 2017): three generator/critic pairs that learn melodies fusing two
genres.
"""
