"""The commands bound after the first ones: each call's dict against `effectual CMD --json` on the
same small inputs (the module and the CLI call the same src/api function, so the numbers match),
with the fields that are wall-clock timings left out."""
import json

import numpy as np
import pytest

import effectual

FMNIST = "fashion-mnist:test"
SMALL = dict(search_images=60, report_images=60)
SMALL_FLAGS = ["--search-images", 60, "--report-images", 60]


def untimed(doc):
    """`doc` without the keys that hold timings (they differ run to run)."""
    timing = ("seconds", "images_per_s", "latency", "throughput", "per_node", "ms")
    if isinstance(doc, dict):
        return {k: untimed(v) for k, v in doc.items() if not any(t in k for t in timing)}
    if isinstance(doc, list):
        return [untimed(v) for v in doc]
    return doc


@pytest.fixture(scope="module")
def model(lenet):
    return effectual.load(lenet, threads=1)


def test_search_thresholds_and_all_equal_the_cli(model, lenet, cli):
    got = model.search_thresholds(FMNIST, keep="100%", levels=4, sim_images=1, **SMALL)
    want = cli.json("search", "thresholds", lenet, "--data", FMNIST, *SMALL_FLAGS, "--keep", "100%", "--levels", 4,
                    "--sim-images", 1, "--threads", 1)
    assert untimed(got) == untimed(want)
    assert len(got["layers"]) == 5
    got = model.search_all(FMNIST, keep="100%", levels=4, sim_images=0, **SMALL)
    want = cli.json("search", "all", lenet, "--data", FMNIST, *SMALL_FLAGS, "--keep", "100%", "--levels", 4,
                    "--sim-images", 0, "--threads", 1)
    assert untimed(got) == untimed(want)


def test_search_sweep_gives_the_frontier(model, lenet, cli):
    got = model.search_precision(FMNIST, sweep=True, sweep_targets="100,95", sim_images=0, **SMALL)
    want = cli.json("search", "precision", lenet, "--data", FMNIST, *SMALL_FLAGS, "--sweep", "--sweep-targets",
                    "100,95", "--sim-images", 0, "--threads", 1)
    assert untimed(got) == untimed(want)
    assert len(got["points"]) == 2


def test_gate_equals_the_cli_and_writes_the_gates_file(model, lenet, cli, tmp_path):
    got = model.gate(FMNIST, base="1/2", levels=4, out=tmp_path / "g.json", **SMALL)
    want = cli.json("gate", lenet, "--data", FMNIST, *SMALL_FLAGS, "--base", "1/2", "--levels", 4, "--threads", 1,
                    "--out", tmp_path / "cli.json")
    assert untimed(got) == untimed(want)
    assert (tmp_path / "g.json").read_text() == (tmp_path / "cli.json").read_text()
    # evaluate= measures that file like `gate --evaluate`: the search's own final numbers.
    again = model.gate(FMNIST, evaluate=tmp_path / "g.json", **SMALL)
    assert again["runs"][0]["flop_reduction"] == got["runs"][0]["flop_reduction"]
    # The gates file drives simulate's cgnet as on the command line.
    sim = model.simulate(FMNIST, images=1, designs="cgnet", gates=tmp_path / "g.json")
    want = cli.json("simulate", lenet, "--data", FMNIST, "--images", 1, "--designs", "cgnet", "--gates",
                    tmp_path / "g.json", "--threads", 1)
    assert sim == want and sim["notes"]["gates"] == str(tmp_path / "g.json")
    # grouping= as --grouping: the grouped search's gates file is the CLI's.
    model.gate(FMNIST, base="1/2", grouping="shuffle", levels=4, out=tmp_path / "s.json", **SMALL)
    cli.json("gate", lenet, "--data", FMNIST, *SMALL_FLAGS, "--base", "1/2", "--grouping", "shuffle", "--levels", 4,
             "--threads", 1, "--out", tmp_path / "cli_s.json")
    assert (tmp_path / "s.json").read_text() == (tmp_path / "cli_s.json").read_text()
    assert '"grouping": "shuffle"' in (tmp_path / "s.json").read_text()


def test_quantize_writes_the_same_model_as_the_cli(lenet, cli, tmp_path):
    got = effectual.quantize(lenet, tmp_path / "py.onnx", bits=4, clip="mse", threads=1)
    want = cli.json("quantize", lenet, "--bits", 4, "--clip", "mse", "--threads", 1, "--out", tmp_path / "cli.onnx")
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()
    assert untimed(got)["layers"] == untimed(want)["layers"]
    # The quantized model loads and runs.
    q = effectual.load(str(tmp_path / "py.onnx"))
    assert q.evaluate(FMNIST, limit=20)["images"] == 20
    with pytest.raises(effectual.UsageError, match="--bits 16: give 2 to 8"):
        effectual.quantize(lenet, tmp_path / "x.onnx", bits=16)


def test_synthetic_simulation_equals_the_cli(cli):
    got = effectual.simulate_synthetic("vgg16-conv", designs="stripes,cnvlutin", images=1, zero_fraction=0.5,
                                       act_bits=8, seed=3, threads=1)
    want = cli.json("simulate", "--synthetic", "--network", "vgg16-conv", "--designs", "stripes,cnvlutin",
                    "--images", 1, "--zero-fraction", 0.5, "--act-bits", 8, "--seed", 3, "--threads", 1)
    assert got == want
    assert got["notes"]["source"].startswith("synthetic: zero_fraction 0.5")


def test_bench_area_and_report(model, lenet, cli, root, tmp_path):
    b = model.bench(repeat=3, warmup=1, per_layer=True)
    assert b["repeat"] == 3 and b["batch"] == 1 and b["latency_ms"]["min"] <= b["latency_ms"]["median"]
    assert len(b["per_node"]) > 0 and abs(sum(n["share"] for n in b["per_node"]) - 1) < 1e-6
    x = np.load(root / "models" / "lenet5.ref" / "input.npy")
    assert model.bench(x, batch=4, repeat=2)["batch"] == 4
    assert effectual.area() == cli.json("area")
    assert effectual.area(designs=["stripes"]) == cli.json("area", "--designs", "stripes")
    prof = model.profile(FMNIST, images=4)
    sim = model.simulate(FMNIST, images=1, designs="stripes")
    charts = effectual.report(tmp_path / "r.html", profile=prof, simulation=sim, title="t")
    (tmp_path / "p.json").write_text(json.dumps(prof))
    (tmp_path / "s.json").write_text(json.dumps(sim))
    out = cli("report", "--profile", tmp_path / "p.json", "--simulation", tmp_path / "s.json", "--out",
              tmp_path / "cli.html", "--title", "t").stdout
    assert f"({charts} charts)" in out and charts > 0
    with pytest.raises(effectual.UsageError, match="give at least one"):
        effectual.report(tmp_path / "none.html")


def test_optimize_writes_the_optimized_model(model, tmp_path):
    doc = model.optimize(tmp_path / "opt", FMNIST, search_images=40, report_images=40, formats="fp8",
                         alphas="none", rounds=1, runs=1, calibration_images=8)
    assert {"layers", "chosen", "accuracy"} <= set(doc)
    for f in ("lenet5.onnx", "optimize.json", "frontier.json", "frontier.csv"):
        assert (tmp_path / "opt" / f).exists()
    assert effectual.load(str(tmp_path / "opt" / "lenet5.onnx")).evaluate(FMNIST, limit=10)["images"] == 10
