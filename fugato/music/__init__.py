"""Symbolic music without torch: melodies, files, named corpora.

Importing this package is cheap: music21 and symusic are imported only by the functions that
read or write files.
"""

from fugato.music.corpora import (
    PARSER_VERSION,
    Corpus,
    assign_splits,
    corpus_stats,
    list_corpora,
    load_corpus,
    plot_corpus_stats,
)
from fugato.music.io import (
    MUSIC_EXTENSIONS,
    abc_tune_headers,
    melody_from_music21,
    melody_to_music21,
    read_abc_tunes,
    read_file,
    write_midi,
    write_musicxml,
)
from fugato.music.melody import TPQ, Melody, Note, TimeSignature, key_tonic, skyline, to_ticks

__all__ = [
    "MUSIC_EXTENSIONS",
    "PARSER_VERSION",
    "TPQ",
    "Corpus",
    "Melody",
    "Note",
    "TimeSignature",
    "abc_tune_headers",
    "assign_splits",
    "corpus_stats",
    "key_tonic",
    "list_corpora",
    "load_corpus",
    "melody_from_music21",
    "melody_to_music21",
    "plot_corpus_stats",
    "read_abc_tunes",
    "read_file",
    "skyline",
    "to_ticks",
    "write_midi",
    "write_musicxml",
]

# encodings and attributes
from fugato.music.attributes import (  # noqa: E402
    ATTRIBUTES,
    PITCH_NORM,
    RHYTHM_WEIGHTS,
    compute_attributes,
    contour,
    note_density,
    pitch_range,
    rhythmic_complexity,
)
from fugato.music.encodings import (  # noqa: E402
    Encoding,
    EventEncoding,
    MeasureEncoding,
    encoding_from_dict,
)

__all__ += [
    "ATTRIBUTES", "PITCH_NORM", "RHYTHM_WEIGHTS", "Encoding", "EventEncoding", "MeasureEncoding",
    "compute_attributes", "contour", "encoding_from_dict", "note_density", "pitch_range",
    "rhythmic_complexity",
]
