"""AR-VAE on images: the paper's two image VAEs, and tiny runs on dSprites and Morpho-MNIST
through the command line (train, eval, sample)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from shared_data import needs

import fugato
from fugato.cli import main
from fugato.config import load_config
from fugato.errors import FugatoError
from fugato.models.arvae.images import ImageARVAE
from fugato.nn.image_vae import ImageVAE

ROOT = Path(__file__).parents[1]
TINY = ["train.max_steps=40", "train.batch_size=32", "train.log_every=10",
        "train.eval_every=20", "train.checkpoint_every=20", "train.eval_batches=2",
        "sample.eval_images=200"]


def test_the_image_vaes_have_table_2s_shapes() -> None:
    for kind, side, z_dim, grid in (("dsprites", 64, 10, 512), ("mnist", 28, 16, 2888)):
        vae = ImageVAE(kind, z_dim).eval()
        logits, mu, logvar, z = vae(torch.rand(2, side, side))
        assert logits.shape == (2, side, side) and mu.shape == logvar.shape == (2, z_dim)
        assert torch.equal(z, mu)  # no sampling outside training
        assert vae.enc_linear[0].in_features == grid


@pytest.mark.parametrize("config, sets, attributes", [
    ("arvae-dsprites-quick.toml", ["data.images=1500"],
     ["shape", "scale", "orientation", "position_x", "position_y"]),
    pytest.param("arvae-mnist-quick.toml",
                 ["data.images=200", "data.attributes=['thickness', 'slant']"],
                 ["thickness", "slant"], marks=needs("mnist")),
])
def test_a_tiny_image_run_trains_evaluates_and_samples(config: str, sets: list[str],
                                                       attributes: list[str],
                                                       tmp_path: Path) -> None:
    run = tmp_path / "run"
    overrides = [x for s in [*TINY, *sets] for x in ("--set", s)]
    assert main(["train", str(ROOT / "configs" / config), "--run-dir", str(run), "--quiet",
                 "--device", "cpu", *overrides]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").open()]
    train = [r for r in records if r["split"] == "train"]
    assert train[-1]["recon"] < train[0]["recon"]
    assert main(["eval", str(run), "--quiet", "--device", "cpu"]) == 0
    results = json.loads((run / "eval.json").read_text())
    assert list(results["per_attribute"]) == attributes
    for key in ("interpretability", "mig", "modularity", "sap", "scc"):
        assert np.isfinite(results[key]), key
    assert 0.5 < results["recon_accuracy"] <= 1
    for png in ("training.png", "latents.png", "codes.png", "reconstructions.png",
                "traversals.png"):
        assert (run / "plots" / png).stat().st_size > 1000
    assert "![codes](plots/codes.png)" in (run / "report.md").read_text()
    assert main(["sample", str(run), "-n", "3", "--out", str(tmp_path / "s"), "--quiet",
                 "--device", "cpu"]) == 0
    assert len(list((tmp_path / "s").glob("*.png"))) >= 1


@needs("mnist")
def test_content_preservation_uses_a_digit_classifier_the_run_trained(tmp_path: Path) -> None:
    run = tmp_path / "run"
    sets = ["train.max_steps=300", "train.batch_size=16", "train.log_every=50",
            "train.eval_every=300", "train.checkpoint_every=300", "train.eval_batches=2",
            "data.images=2000", "data.attributes=['thickness', 'slant']",
            "sample.classifier_steps=300", "sample.interpolations=5"]
    overrides = [x for s in sets for x in ("--set", s)]
    assert main(["train", str(ROOT / "configs" / "arvae-mnist-quick.toml"), "--run-dir",
                 str(run), "--quiet", "--device", "cpu", *overrides]) == 0
    assert main(["eval", str(run), "--quiet", "--device", "cpu"]) == 0
    content = json.loads((run / "eval.json").read_text())["content"]
    assert content["original"] > 0.8  # 300 steps of 16 shifted digits: about 0.9
    assert list(content["per_attribute"]) == ["thickness", "slant"]
    assert len(content["per_step"]) == 5
    # each attribute is varied along the dimension Interpretability chose for it
    chosen = json.loads((run / "eval.json").read_text())["per_attribute"]
    assert content["dims"] == [chosen[a]["interpretability_dim"] for a in ("thickness", "slant")]
    assert 0.1 < content["interpolated"] <= 1 and 0.1 < content["reconstructed"] <= 1
    for png in ("content.png", "surfaces.png"):
        assert (run / "plots" / png).stat().st_size > 1000
    assert "Content preservation" in (run / "report.md").read_text()


def test_bad_image_configs_are_one_line_errors() -> None:
    config = ROOT / "configs" / "arvae-dsprites-quick.toml"
    for sets, reason in ((["data.dataset='cifar'"], "data.dataset"),
                         (["data.attributes=['slant']"], "not attributes of dsprites"),
                         (["net.z_dim=3"], "net.z_dim")):
        with pytest.raises(FugatoError, match=reason):
            ImageARVAE(load_config(config, sets))


@needs("mnist")
def test_quiet_runs_measure_digits_without_a_progress_bar(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUGATO_CACHE", str(tmp_path / "cache"))  # measured afresh each time
    run = tmp_path / "run"
    sets = [x for s in [*TINY, "data.images=60", "data.attributes=['slant']"]
            for x in ("--set", s)]
    assert main(["train", str(ROOT / "configs" / "arvae-mnist-quick.toml"), "--run-dir",
                 str(run), "--quiet", "--device", "cpu", *sets]) == 0
    assert "measuring digits" not in capsys.readouterr().err
    run_again = fugato.load_run(run)
    monkeypatch.setenv("FUGATO_CACHE", str(tmp_path / "cache-2"))
    run_again.task.dataset()  # a task loaded outside the commands keeps its progress bar
    assert "measuring digits" in capsys.readouterr().err


@needs("mnist")
def test_a_users_own_image_attribute_trains_from_the_config_alone(tmp_path: Path) -> None:
    """`module:function` over images (tests/user_attributes.py: the share of ink in the top
    half): AR-VAE orders its regularised dimension by it, and it is measured on decoded
    digits too (attribute surfaces)."""
    run = tmp_path / "run"
    mine = "user_attributes:top_heaviness"
    sets = [*TINY, "train.max_steps=150", "train.eval_every=150", "train.checkpoint_every=150",
            "data.images=1000", f"data.attributes=['{mine}']", "sample.classifier_steps=20",
            "sample.interpolations=3"]
    assert main(["train", str(ROOT / "configs" / "arvae-mnist-quick.toml"), "--run-dir",
                 str(run), "--quiet", "--device", "cpu",
                 *[x for s in sets for x in ("--set", s)]]) == 0
    assert main(["eval", str(run), "--quiet", "--device", "cpu"]) == 0
    per = json.loads((run / "eval.json").read_text())["per_attribute"]
    assert list(per) == [mine]
    # of the 16 dimensions, the regularised one is the attribute's best (SCC is the best)
    assert per[mine]["scc_regularised_dim"] == per[mine]["scc"] > 0.5
    assert (run / "plots" / "surfaces.png").stat().st_size > 1000
    sprites = ROOT / "configs" / "arvae-dsprites-quick.toml"
    assert ImageARVAE(load_config(sprites, [f"data.attributes=['{mine}']"])).measurable
    assert not ImageARVAE(load_config(sprites, [f"data.attributes=['{mine}', 'scale']"])
                          ).measurable
    for bad, reason in (("numpy:pi", "not a function"), ("no_such_module:f", "cannot import")):
        with pytest.raises(FugatoError, match=reason):
            ImageARVAE(load_config(sprites, [f"data.attributes=['{bad}']"]))
    wrong_shape = ImageARVAE(load_config(sprites, ["data.images=20",
                                                   "data.attributes=['numpy:ones_like']"]))
    with pytest.raises(FugatoError, match="one value per image"):  # (N, H, W), not (N,)
        wrong_shape.dataset()
