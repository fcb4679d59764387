"""Base distributions for the IML second stage: a Gaussian HMM and a Gaussian mixture."""
