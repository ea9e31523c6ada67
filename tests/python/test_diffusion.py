"""Diffusion from Python: sampling equals the CLI's bit for bit, the noise prediction equals diffusers'
(the committed golden), ArrowQuantV2.quantize_diffusion_model quantises and scores, errors are typed."""
import os

import numpy as np
import pytest

from conftest import ROOT, run

import arrowquant as aq  # noqa: E402

DIFFUSION = os.path.join(ROOT, "tests", "goldens", "diffusion")
FASHION = os.path.join(DIFFUSION, "fashion_dit")
TINY = os.path.join(DIFFUSION, "tiny_dit")


def test_sample_equals_the_cli(tmp_path):
    run("sample", TINY, "--class", 2, "-n", 4, "--steps", 6, "--seed", 9, "--npy", tmp_path / "cli.npy", "-q")
    ours = aq.DiffusionPipeline(TINY).sample([2] * 4, steps=6, seed=9)
    assert ours.shape == (4, 1, 8, 8) and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, np.load(tmp_path / "cli.npy"))


def test_predict_noise_equals_diffusers():
    g = aq.load_sharded_safetensors(os.path.join(DIFFUSION, "tiny_dit_golden.safetensors"))
    eps = aq.DiffusionPipeline(TINY).predict_noise(g["x"], g["timesteps"], g["labels"].tolist())
    assert np.linalg.norm(eps - g["eps"]) / np.linalg.norm(g["eps"]) < 1e-5


def test_quantize_diffusion_model_scores_against_the_original(tmp_path):
    seen = []
    # The cloud profile's diffusion values (8-bit g64, trajectory calibration, min_accuracy 0.95), on 32
    # trajectory states and without static activations (time_groups 0) to keep the test short.
    r = aq.ArrowQuantV2("cloud", samples=32, time_groups=0, env=False).quantize_diffusion_model(
        FASHION, tmp_path / "w8", classifier=os.path.join(DIFFUSION, "fashion_classifier"), samples=20, steps=4,
        progress_callback=lambda f, m: seen.append(f))
    assert r["report"]["config"]["modality"] == "image diffusion"
    assert r["report"]["config"]["calibration"]["min_accuracy"] == 0.95
    assert r["compression_ratio"] > 1.3 and r["cosine_similarity"] > 0.999
    d = r["diffusion"]
    assert d["samples"] == 20 and len(d["per_timestep"]) == 4
    assert 0 < d["max_noise_rel_error"] < 0.1
    assert 0 <= d["model"]["class_accuracy"] <= 1 and d["model"]["frechet_distance"] > 0
    assert seen and seen[-1] == 1.0


def test_quantize_diffusion_model_calibrates_on_its_trajectories(tmp_path):
    r = aq.ArrowQuantV2("local").quantize_diffusion_model(
        TINY, tmp_path / "w4", config=aq.QuantConfig(bits=4, group_size=32, samples=32), method="gptq",
        calibration="trajectory")
    assert r["cosine_similarity"] > 0.98
    with pytest.raises(aq.ArrowQuantError, match="calibration trajectory"):
        aq.ArrowQuantV2("local").quantize_diffusion_model(
            TINY, tmp_path / "text", bits=4, method="gptq", calibration=os.path.join(DIFFUSION, "tiny_dit", "model_index.json"))
    assert not (tmp_path / "text").exists()


def test_errors_are_typed(tmp_path):
    with pytest.raises(aq.ModelFormatError, match="not a diffusion transformer"):
        aq.DiffusionPipeline(os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    pipe = aq.DiffusionPipeline(TINY)
    with pytest.raises(aq.ValidationError, match="out of range"):
        pipe.sample([7])
    with pytest.raises(aq.ConfigurationError, match="sampler"):
        pipe.sample([0], sampler="euler")
    with pytest.raises(aq.ShapeMismatchError):
        pipe.predict_noise(np.zeros((1, 1, 4, 4), np.float32), [1.0], [0])
    with pytest.raises(aq.Cancelled):
        pipe.sample([0, 1], steps=20, progress=lambda f, m: False)


def test_time_group_clips_round_the_inputs_when_asked(tmp_path):
    aq.ArrowQuantV2("local").quantize_diffusion_model(
        TINY, tmp_path / "w8",
        config=aq.QuantConfig(bits=8, group_size=0, samples=32, time_groups=4, calibration="trajectory"))
    g = aq.load_sharded_safetensors(os.path.join(DIFFUSION, "tiny_dit_golden.safetensors"))
    labels = g["labels"].tolist()
    ref = aq.DiffusionPipeline(TINY).predict_noise(g["x"], g["timesteps"], labels)
    weights_only = aq.DiffusionPipeline(tmp_path / "w8").predict_noise(g["x"], g["timesteps"], labels)
    rounded = aq.DiffusionPipeline(tmp_path / "w8", static_activations=True).predict_noise(g["x"], g["timesteps"], labels)
    err = lambda e: np.linalg.norm(e - ref) / np.linalg.norm(ref)  # noqa: E731
    assert err(weights_only) < err(rounded) < 0.1
    with pytest.raises(aq.ArrowQuantError, match="no static activation clips"):
        aq.DiffusionPipeline(TINY, static_activations=True)


def test_profiles_follow_the_modality(tmp_path):
    assert aq.detect_modality(TINY) == "diffusion"
    assert aq.detect_modality(os.path.join(ROOT, "tests", "goldens", "tiny", "llama")) == "text"
    c = aq.QuantConfig.from_profile("edge", modality="diffusion", env=False)
    assert (c.bits, c.group_size, c.time_groups, c.min_accuracy, c.samples, c.calibration) == \
        (2, 256, 5, 0.65, 32, "trajectory")
    assert c.replace(bits=4).time_groups == 5  # replace keeps the modality
    assert aq.QuantConfig.from_profile("edge", env=False).time_groups == 0
    with pytest.raises(aq.ConfigurationError, match="modality"):
        aq.QuantConfig.from_profile("edge", modality="audio")
    # Without a config, quantize_diffusion_model takes the mode's diffusion values.
    r = aq.ArrowQuantV2("edge", samples=8, env=False).quantize_diffusion_model(TINY, tmp_path / "edge")
    assert r["report"]["config"]["calibration"]["time_groups"] == 5
    (tmp_path / "llada").mkdir()
    (tmp_path / "llada" / "config.json").write_text('{"model_type": "llada"}')
    with pytest.raises(aq.ModelFormatError, match="text diffusion language model.*not supported yet"):
        aq.detect_modality(tmp_path / "llada")
