"""Base distributions for the IML second stage: a Gaussian HMM (`hmm`) and a Gaussian mixture
(`gmm`), one interface and one saved-state form (`saved_state()` / `from_saved_state`)."""
