"""The `iml-audio` evaluation: reconstruction SNR on held-out rendered tunes, held-out
log-likelihood of frame-code sequences under the HMM, the GMM and a refitted diagonal mixture,
generated WAVs (read back with soundfile) and spectrograms of training, held-out and generated
audio."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fugato.errors import FugatoError
from fugato.metrics.separation import snr_db
from fugato.models.iml.sequences import BASES
from fugato.report import Evaluation, markdown_table, report_page
from fugato.samples import Audio, write_samples

if TYPE_CHECKING:
    from fugato.models.iml.audio import IMLAudio
    from fugato.train.run import Run


def evaluate(task: IMLAudio, run: Run, seed: int = 0) -> Evaluation:
    """eval.json numbers and report.md of `run`; WAVs go to `run.path / "samples"`, plots to
    `run.path / "plots"`."""
    if task.scale is None:
        raise FugatoError("this run has no audio scale: it was stopped before its end")
    data, net = task.config.data, task.config.net
    test, train = task.tunes("test"), task.tunes("train")
    test_codes, train_codes = task.encode_sequences(test), task.encode_sequences(train)
    recon = [task.decode_audio(c, len(a)) for c, a in zip(test_codes, test, strict=True)]
    train_recon = [task.decode_audio(c, len(a))
                   for c, a in zip(train_codes, train[:3], strict=False)]
    loglik = {"test": task.bases.log_likelihood_per_code(test_codes),
              "train": task.bases.log_likelihood_per_code(train_codes)}
    diag = task.bases.diagonal_mixture_baseline(train_codes, test_codes, seed)
    clips = {b: task.sample_clips(task.config.sample.eval_samples, seed, b) for b in BASES}
    wavs = _write_wavs(task, run, clips)
    _plot(task, run, {"training audio (rendered tune)": np.concatenate(train),
                      "held-out tune": test[0],
                      "held-out tune, autoencoder reconstruction": recon[0],
                      "generated: HMM across frame codes": clips["hmm"][0],
                      "generated: i.i.d. GMM frame codes": clips["gmm"][0]})
    results: dict[str, Any] = {
        "model": task.name, "step": run.step, "program": data.program,
        "sample_rate": data.sample_rate, "frame": data.frame, "hop": data.hop,
        "latent": net.latent,
        "test_recon_snr_db": snr_db(np.concatenate(test), np.concatenate(recon)),
        "test_recon_snr_db_per_tune": [snr_db(a, r) for a, r in zip(test, recon, strict=True)],
        "train_recon_snr_db": snr_db(np.concatenate(train[:3]), np.concatenate(train_recon)),
        **{f"{b}_{s}_loglik_per_code": loglik[s][b] for s in ("test", "train") for b in BASES},
        **{f"diag_mixture_{s}_loglik_per_code": diag[s] for s in ("test", "train")},
        "test_seconds": sum(len(a) for a in test) / data.sample_rate,
        "train_seconds": sum(len(a) for a in train) / data.sample_rate,
        "test_tunes": len(test), "train_tunes": len(train),
        "states": net.states, "components": net.components,
        "wavs": wavs, "fit": task.fit_info,
    }
    return Evaluation(results, _report(task, run, results, loglik, diag))


def _write_wavs(task: IMLAudio, run: Run, clips: dict[str, np.ndarray]
                ) -> dict[str, list[dict[str, Any]]]:
    """Each base's clips as `samples/{base}-000.wav`, ..., read back (the acceptance is that
    the files play): per base, each file's path, length (s) and RMS."""
    import soundfile

    wavs = {}
    for base, c in clips.items():
        written = write_samples(Audio(c, task.config.data.sample_rate), run.path / "samples",
                                prefix=base)
        wavs[base] = [{"file": str(p.relative_to(run.path)),
                       "seconds": soundfile.info(str(p)).duration,
                       "rms": float(np.sqrt(np.mean(soundfile.read(str(p))[0] ** 2)))}
                      for p in written if p.suffix == ".wav"]
    return wavs


def _plot(task: IMLAudio, run: Run, signals: dict[str, np.ndarray]) -> None:
    """Spectrograms of the first `sample.seconds` of each signal, and the training curves."""
    from fugato.plot import plot_spectrograms, plot_training_curves

    data = task.config.data
    excerpt = int(task.config.sample.seconds * data.sample_rate)
    plots = run.path / "plots"
    plot_spectrograms({name: s[:excerpt] for name, s in signals.items()},
                      plots / "spectrograms.png", data.sample_rate)
    plot_training_curves(run.metrics(), plots / "training.png", ("loss", "frame_snr_db"))


def _report(task: IMLAudio, run: Run, results: dict[str, Any],
            loglik: dict[str, dict[str, float]], diag: dict[str, float]) -> str:
    data, net = task.config.data, task.config.net
    rows = [{"what": "reconstruction SNR, held-out tunes (dB)",
             "value": results["test_recon_snr_db"]},
            {"what": "reconstruction SNR, training tunes (dB)",
             "value": results["train_recon_snr_db"]},
            *({"what": f"{b.upper()} log-lik per frame code, {s}", "value": loglik[s][b]}
              for s in ("test", "train") for b in BASES),
            *({"what": f"i.i.d. diagonal mixture ({net.states} components, the HMM's emissions "
                       f"without transitions) log-lik per frame code, {s}", "value": diag[s]}
              for s in ("test", "train"))]
    wav_rows = [{"base": b, **w} for b in BASES for w in results["wavs"][b]]
    lead = (f"{data.sample_rate} Hz audio in {data.frame}-sample periodic-Hann frames, hop "
            f"{data.hop}; 1-D convolutional autoencoder with {net.latent}-d codes; a "
            f"{net.states}-state {task.bases.hmm_covariance}-covariance HMM across frame codes "
            f"vs a {net.components}-component full-covariance GMM (frames i.i.d.). Training "
            f"audio {results['train_seconds']:.0f} s ({results['train_tunes']} tunes), "
            f"held-out {results['test_seconds']:.0f} s ({results['test_tunes']} tunes).")
    return report_page(
        f"IML two-stage: audio ({data.corpus} rendered with `{data.program}`, step {run.step})",
        lead, [markdown_table(rows), "## Generated audio\n\n" + markdown_table(wav_rows),
               "## Spectrograms: training vs generated\n\n"
               "![spectrograms](plots/spectrograms.png)"])
