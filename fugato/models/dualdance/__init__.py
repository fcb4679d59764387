"""Dual music-dance learning: music-to-dance and dance-to-music transformers trained jointly."""
