"""The melody language model: an LSTM over `EventEncoding` tokens, the baseline every melody system
is measured against.
"""
