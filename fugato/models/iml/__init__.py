"""IML two-stage (Subakan, Koyejo, Smaragdis 2018): an autoencoder plus a learned base
distribution (`fugato.distributions`): a GMM over digit codes, an HMM over the codes of bars
or audio frames.

- `task` (`iml`: MNIST digits, with the VAE/GAN/WGAN baselines and the (method, K) sweep) and
  its evaluation `evaluate`;
- `sequences`: the stage 2 the two sequence systems share (`SequenceBases`, `SequenceIML`);
- `melody` (`iml-melody`) and `melody_evaluate`; `audio` (`iml-audio`) and `audio_evaluate`.
"""
