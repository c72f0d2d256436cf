"""The Python module against the CLI on the same inputs (the same library, so the same numbers,
bit for bit), against ONNX Runtime's stored outputs, and on hand-checkable cases."""
import threading
import time

import numpy as np
import pytest

import effectual

FMNIST = "fashion-mnist:test"


@pytest.fixture(scope="module")
def model(lenet):
    return effectual.load(lenet)


@pytest.fixture(scope="module")
def ref(root):
    d = root / "models" / "lenet5.ref"
    return d, np.load(d / "input.npy"), np.load(d / "labels.npy")


def test_run_equals_the_cli_and_onnx_runtime(model, lenet, ref, cli, tmp_path):
    d, x, _ = ref
    (y,) = model.run(x)
    assert y.dtype == np.float32 and y.shape == (8, 10)
    cli("run", lenet, d / "input.npy", "--out", tmp_path / "run")
    np.testing.assert_array_equal(y, np.load(tmp_path / "run" / "logits.npy"))
    ort = np.load(d / "logits.npy")
    assert np.max(np.abs(y - ort) / np.maximum(1.0, np.abs(ort))) < 1e-4
    # Every way of passing the input gives the same numbers: by name, as a list, as float64, in
    # Fortran order and unaligned (the last three are converted once, see arrays.h).
    name = model.input_names[0]
    for same in (model.run({name: x})[0], model.run([x])[0], model.run(x.astype(np.float64))[0],
                 model.run(np.asfortranarray(x))[0]):
        np.testing.assert_array_equal(same, y)
    raw = np.zeros(x.nbytes + 16, np.uint8)
    off = next(o for o in (4, 8, 12) if (raw.ctypes.data + o) % 16)
    unaligned = raw[off:off + x.nbytes].view(np.float32).reshape(x.shape)
    unaligned[...] = x
    assert unaligned.ctypes.data % 16 != 0
    np.testing.assert_array_equal(model.run(unaligned)[0], y)
    # The output is the engine's buffer, handed over: numpy does not own it, a capsule keeps it.
    assert not y.flags.owndata and y.base is not None


def test_evaluate_counts_by_hand(model, ref):
    _, x, _ = ref
    predicted = model.run(x)[0].argmax(axis=1)
    right = model.evaluate(inputs=x, labels=predicted)
    assert (right["images"], right["top1"], right["top5"]) == (8, 1.0, 1.0)
    # The second-best class is wrong for top-1 and right for top-5 on every image.
    second = np.argsort(-model.run(x)[0], axis=1)[:, 1]
    wrong = model.evaluate(inputs=x, labels=second)
    assert (wrong["top1"], wrong["top5"]) == (0.0, 1.0)
    # Three of the first four right: 3/4.
    labels = predicted[:4].copy()
    labels[2] = second[2]
    assert model.evaluate(inputs=x[:4], labels=labels)["top1"] == 0.75


def test_evaluate_equals_the_cli(model, lenet, cli):
    got = model.evaluate(FMNIST, limit=300, first=100)
    want = cli.json("eval", lenet, "--data", FMNIST, "--limit", 300, "--first", 100, "--batch", 64)
    for key in ("images", "top1", "top5", "data", "model", "non_finite", "transforms"):
        assert got[key] == want[key], key
    assert got["images"] == 300


def test_profile_equals_the_cli(model, lenet, ref, cli):
    assert model.profile(FMNIST, images=20, first=3) == cli.json("profile", lenet, "--data", FMNIST, "--images", 20,
                                                                  "--first", 3)
    # The same 8 images as an array and as the .npy file the CLI reads: only the named source differs.
    d, x, _ = ref
    from_array = model.profile(inputs=x, images=8, correlations=False)
    from_file = cli.json("profile", lenet, "--input", d / "input.npy", "--images", 8, "--skip", "correlations")
    assert from_array["run"]["data"] == "input=array[8, 1, 28, 28]"
    from_array["run"]["data"] = from_file["run"]["data"]
    assert from_array == from_file
    assert model.profile(inputs=str(d / "input.npy"), images=8, correlations=False) == from_file


def test_profile_options_reach_the_profiler(model, lenet, cli):
    got = model.profile(FMNIST, images=4, near_zero=[0.5], relative_near_zero=[], groups=[(8, 2)], bits=8,
                        machines={"cpu": (1e12, 5e10), "tiny": (1e9, 1e8)}, psum_samples=4, synapse_rows=64)
    want = cli.json("profile", lenet, "--data", FMNIST, "--images", 4, "--near-zero", 0.5, "--relative-near-zero",
                    "none", "--group", "8x2", "--bits", 8, "--machine", "cpu=1e12,5e10", "--machine",
                    "tiny=1e9,1e8", "--psum-samples", 4, "--synapse-rows", 64)
    assert got == want


def test_simulate_equals_the_cli(model, lenet, cli):
    got = model.simulate(FMNIST, images=2, first=5, designs=["stripes", "cnvlutin"])
    want = cli.json("simulate", lenet, "--data", FMNIST, "--images", 2, "--first", 5, "--designs", "stripes,cnvlutin")
    assert got == want
    # Per image, layer and design: 2 images x 4 conv/FC layers x 2 designs.
    assert len(got["layers"]) == 2 * len(model.info()["layers"]) * 2


def test_trace_writes_what_the_cli_writes(model, lenet, cli, tmp_path):
    got = model.trace(str(tmp_path / "py"), FMNIST, images=3, first=1)
    cli("trace", lenet, "--data", FMNIST, "--images", 3, "--first", 1, "--out", tmp_path / "cli")
    assert got == {"dir": str(tmp_path / "py"), "layers": 5, "images": 3}
    py_files = sorted(p.relative_to(tmp_path / "py") for p in (tmp_path / "py").rglob("*") if p.is_file())
    cli_files = sorted(p.relative_to(tmp_path / "cli") for p in (tmp_path / "cli").rglob("*") if p.is_file())
    assert py_files == cli_files and len(py_files) > 4
    for f in py_files:
        a, b = (tmp_path / "py" / f).read_bytes(), (tmp_path / "cli" / f).read_bytes()
        assert a == b or f.name == "manifest.json", f


def test_simulate_traces_equals_the_cli(model, lenet, cli, tmp_path):
    model.trace(str(tmp_path / "t"), FMNIST, images=2)
    got = effectual.simulate_traces(str(tmp_path / "t"), designs="pragmatic")
    want = cli.json("simulate", "--traces", tmp_path / "t", "--designs", "pragmatic")
    assert got == want and got["images"] == 2
    # The live simulation of the same images: the same cycles (the trace holds the values it saw).
    live = model.simulate(FMNIST, images=2, designs=["pragmatic"])
    assert [d["totals"]["all"]["cycles"] for d in got["designs"]] == \
        [d["totals"]["all"]["cycles"] for d in live["designs"]]
    with pytest.raises(effectual.TraceError):
        effectual.simulate_traces(str(tmp_path / "nowhere"))


def test_search_precision_equals_the_cli(model, lenet, cli):
    kw = dict(search_images=60, report_images=60, seed=3, keep="99%", sim_images=0)
    got = model.search_precision(FMNIST, **kw)
    want = cli.json("search", "precision", lenet, "--data", FMNIST, "--search-images", 60, "--report-images", 60,
                    "--seed", 3, "--keep", "99%", "--sim-images", 0)
    assert got["wall_seconds"] > 0 and want["wall_seconds"] > 0  # timing, the one thing that differs
    del got["wall_seconds"], want["wall_seconds"]
    assert got == want
    assert len(got["layers"]) == 5


@pytest.mark.parametrize("args,call,kind", [
    (("info", "no/such/model.onnx"), lambda m, lenet: effectual.load("no/such/model.onnx"), "ModelError"),
    (("eval", "{lenet}", "--input", "no/such/x.npy"), lambda m, lenet: m.evaluate(inputs="no/such/x.npy"), "DataError"),
    (("eval", "{lenet}", "--data", "fashion-mnist:val"), lambda m, lenet: m.evaluate("fashion-mnist:val"),
     "UsageError"),
    (("profile", "{lenet}", "--data", FMNIST, "--first", "10000"), lambda m, lenet: m.profile(FMNIST, first=10000),
     "UsageError"),
    (("simulate", "{lenet}", "--data", FMNIST, "--designs", "nope"), lambda m, lenet: m.simulate(FMNIST,
                                                                                               designs="nope"),
     "UsageError"),
])
def test_errors_are_exceptions_with_the_cli_message(model, lenet, cli, args, call, kind):
    import subprocess
    import os
    p = subprocess.run([os.environ.get("EFFECTUAL_BIN", "build/effectual"), *[a.format(lenet=lenet) for a in args]],
                       capture_output=True, text=True)
    assert p.returncode != 0
    with pytest.raises(effectual.Error) as e:
        call(model, lenet)
    assert type(e.value).__name__ == kind
    assert e.value.exit_code == p.returncode
    assert p.stderr.strip() == "effectual: " + str(e.value)


def test_error_classes_and_shapes(model, ref):
    assert issubclass(effectual.UnsupportedError, effectual.ModelError)
    assert issubclass(effectual.ModelError, effectual.Error) and issubclass(effectual.Error, RuntimeError)
    with pytest.raises(effectual.ShapeError, match="input"):
        model.run(np.zeros((1, 1, 5, 5), np.float32))
    _, x, _ = ref
    with pytest.raises(effectual.DataError, match="labels: 3 labels for 8 images"):
        model.evaluate(inputs=x, labels=np.array([1, 2, 3]))
    with pytest.raises(effectual.DataError, match="negative"):
        model.evaluate(inputs=x, labels=-np.ones(8, np.int64))
    with pytest.raises(effectual.UsageError, match="no input named 'nope'"):
        model.run({"nope": x})


def test_long_calls_release_the_gil(model):
    seen = []  # when the other thread made progress
    stop = threading.Event()

    def count():
        n = 0
        while not stop.is_set():
            n += 1
            if n % 1000 == 0:
                seen.append(time.perf_counter())

    t = threading.Thread(target=count)
    t.start()
    while not seen:
        pass
    t0 = time.perf_counter()
    model.profile(FMNIST, images=300, batch=50)
    t1 = time.perf_counter()
    stop.set()
    t.join()
    # Holding the GIL, the call would keep the other thread from running at all (a switch needs the
    # holder to let go), so it could show progress only at the very start or end; released, it runs
    # throughout: progress in the middle half of the call.
    quarter = (t1 - t0) / 4
    assert any(t0 + quarter < x < t1 - quarter for x in seen)


def test_one_model_from_two_threads(model, ref):
    _, x, _ = ref
    want = model.run(x)[0]
    results = []

    def work():
        for _ in range(20):
            results.append(model.run(x)[0])

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 40
    for r in results:
        np.testing.assert_array_equal(r, want)


def test_module_surface(model):
    assert effectual.__version__ == "0.1.0"
    assert {"dadiannao", "stripes", "cnvlutin"} <= {d["name"] for d in effectual.designs()}
    info = model.info()
    assert info["totals"]["layers"] == 5 and len(model.classes) == 10
    assert model.output_names and model.input_names == [i["name"] for i in info["inputs"]]
