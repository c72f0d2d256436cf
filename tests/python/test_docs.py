"""docs/python.md's worked example: its Python block prints what the doc says, and those numbers are
the ones `effectual profile` prints for the same model and images."""
import re
import subprocess
import sys


def doc_block(text, marker):
    """The fenced block right after `<!-- example: MARKER -->`."""
    m = re.search(r"<!-- example: " + marker + r" -->\n```\w*\n(.*?)```", text, re.S)
    assert m, f"docs/python.md has no block marked {marker}"
    return m.group(1)


def test_worked_example_reproduces_the_cli(root, cli):
    doc = (root / "docs" / "python.md").read_text()
    code, documented = doc_block(doc, "python"), doc_block(doc, "output")
    got = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True).stdout
    assert got == documented
    # The CLI's summary of the same run: per layer zero%, zeroM% and bits; the network line.
    summary = cli("profile", root / "models" / "lenet5.onnx", "--data", "fashion-mnist:test", "--images", 100).stdout
    rows = {}
    for line in summary.splitlines():
        f = line.split()
        if len(f) > 8 and f[0].isdigit():
            rows[f[1]] = (f[0], f[4], f[5], f[7])  # index, zero%, zeroM%, bits
    lines = got.splitlines()
    assert len(lines) == len(rows) + 1 == 6
    for line in lines[:-1]:
        index, name, _, zero, _, _, per_mac, _, bits = line.replace(",", "").split()
        assert rows[name] == (index, zero.rstrip("%"), per_mac.rstrip("%"), bits), line
    net = re.search(r"activations zero ([\d.]+)% per value, ([\d.]+)% per MAC", summary)
    prec = re.search(r"static ([\d.]+), 16x1 groups ([\d.]+)", summary)
    assert lines[-1] == (f"network: zero {net.group(1)}% per value, {net.group(2)}% per MAC; "
                         f"precision static {prec.group(1)}, 16x1 groups {prec.group(2)}")
