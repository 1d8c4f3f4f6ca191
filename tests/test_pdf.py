"""nis.pdf: LHAPDF6 grids read and interpolated in torch.

The physics checked: x*f at the grid knots is the tabulated value; between knots and outside the
grid the values are LHAPDF's (log-bicubic Hermite per Q subgrid, continuation extrapolation), by
comparison with an independent scalar transcription of LHAPDF (tests/pdf_reference.py);
Sherpa's own PDF code (NNPDFDriver, a different interpolation) agrees at the knots exactly and to
its interpolation accuracy in between; alpha_s(M_Z) is the set's 0.118.
"""

from __future__ import annotations

import importlib.util
import io
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from pdf_reference import ScalarLHAPDF

from nis.pdf import (
    GridPDF,
    PDFError,
    PDFFormatError,
    PDFMemberError,
    PDFSetNotFoundError,
    UnknownFlavourError,
    find_set,
    load_pdf,
    search_paths,
)

SET = "NNPDF31_nnlo_as_0118_mc"


def _set_dir() -> Path:
    """The test set: shared/data/lhapdf beside the checkout, else wherever the search path finds it
    (Sherpa installs a byte-identical copy)."""
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "lhapdf" / SET
    if shared.is_dir():
        return shared
    try:
        return find_set(SET)
    except PDFSetNotFoundError:
        return shared


SET_DIR = _set_dir()
MZ = 91.1876
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def pdf() -> GridPDF:
    if not SET_DIR.is_dir():
        pytest.skip(f"test set {SET} not found at {SET_DIR}")
    return load_pdf(str(SET_DIR))


@pytest.fixture(scope="module")
def ref() -> ScalarLHAPDF:
    return ScalarLHAPDF(SET_DIR)


def random_points(pdf, n, seed, x_range=None, q2_range=None):
    """Points log-uniform in x and Q^2 (float64 numpy), inside the grid by default."""
    rng = np.random.default_rng(seed)
    lx = np.log(x_range or (pdf.x_min, pdf.x_max))
    lq = np.log(q2_range or (pdf.q2_min, pdf.q2_max))
    return np.exp(rng.uniform(*lx, n)), np.exp(rng.uniform(*lq, n))


def as_t(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


# -- reading ------------------------------------------------------------------------------------
def test_grid_shape_and_metadata(pdf):
    assert pdf.flavours == (-5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5)
    assert pdf.x_min == 1e-9 and pdf.x_max == 1.0
    assert pdf.q2_min == pytest.approx(1.65**2, rel=1e-15) and pdf.q2_max == pytest.approx(1e10, rel=1e-15)
    assert pdf.extrapolation == "continuation"  # LHAPDF's default: the .info does not say
    assert pdf.interpolator.xf.shape == (150, 50, 11)  # two subgrids: 12 + 38 Q knots


def test_knots_reproduced_in_every_subgrid(pdf):
    """x*f at every (x, Q^2) knot of both subgrids is the file's number: bit for bit where the
    point opens a cell (tx = tq = 0), to rounding on the last x and Q knot."""
    ipol = pdf.interpolator
    xs, q2s, grid = ipol.x_knots, ipol.q2_knots, ipol.xf
    X, Q = torch.meshgrid(xs, q2s, indexing="ij")
    vals = pdf.xfxQ2_all(X, Q)
    # at a subgrid boundary LHAPDF takes the upper subgrid: row 12 (Q = m_b) replaces row 11
    expect = grid.clone()
    expect[:, 11] = grid[:, 12]
    assert torch.equal(vals[:-1, :-1], expect[:-1, :-1])
    scale = grid.abs().amax(dim=(0, 1))
    assert ((vals - expect).abs() <= 1e-14 * expect.abs() + 1e-16 * scale).all()
    for pid in (21, 2, -1, 5):  # one flavour at a time: the same numbers
        col = pdf.flavour_index(pid)
        assert torch.equal(pdf.xfxQ2(pid, X[:-1, :-1], Q[:-1, :-1]), vals[:-1, :-1, col])


def test_reader_matches_independent_parse(pdf, ref):
    """The batched reader's tables equal a line-by-line parse of the same file."""
    grid = pdf.interpolator.xf
    for s, (lo, hi) in zip(ref.subgrids, ((0, 12), (12, 50))):
        assert torch.equal(pdf.interpolator.q2_knots[lo:hi], as_t(s.q2s))
        for pid, col in s.col.items():
            assert torch.equal(grid[:, lo:hi, pdf.flavour_index(pid)], as_t([[r[col] for r in row] for row in s.xf]))


# -- interpolation and extrapolation: LHAPDF's semantics ----------------------------------------
@pytest.mark.parametrize("pid", [21, 1, 2, -2, 3, 4, 5])
def test_interpolation_matches_lhapdf_reference(pdf, ref, pid):
    """Random points inside the grid (both subgrids, both edges of each): the batched bicubic
    equals LHAPDF's scalar algorithm to rounding."""
    x, q2 = random_points(pdf, 150, seed=pid + 10)
    # add points in the first/last Q interval of each subgrid and at x knots
    q2s = pdf.interpolator.q2_knots.numpy()
    edges = np.sqrt(q2s[[0, 10, 12, 48]] * q2s[[1, 11, 13, 49]])
    x = np.concatenate([x, x[:4], pdf.interpolator.x_knots.numpy()[[3, 77, 148]]])
    q2 = np.concatenate([q2, edges, [q2s[5], q2s[11], q2s[30]]])
    got = pdf.xfxQ2(pid, as_t(x), as_t(q2)).numpy()
    want = np.array([ref.xfxQ2(pid, a, b) for a, b in zip(x, q2)])
    scale = pdf.interpolator.xf[..., pdf.flavour_index(pid)].abs().max().item()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15 * scale)


def test_all_flavours_equal_single_flavour_calls(pdf):
    x, q2 = random_points(pdf, 300, seed=3)
    allf = pdf.xfxQ2_all(as_t(x), as_t(q2))
    for pid in pdf.flavours:
        np.testing.assert_allclose(pdf.xfxQ2(pid, as_t(x), as_t(q2)), allf[:, pdf.flavour_index(pid)],
                                   rtol=1e-14, atol=1e-14)
    assert torch.equal(pdf.xfxQ2(0, as_t(x), as_t(q2)), pdf.xfxQ2(21, as_t(x), as_t(q2)))  # 0 is the gluon


REGIONS = {
    "x below grid": ((1e-12, 1e-9), (3.0, 1e9)),
    "Q2 above grid": ((1e-6, 0.9), (1e10, 1e14)),
    "both": ((1e-13, 1e-9), (1e10, 1e13)),
    "Q2 below grid": ((1e-7, 0.95), (1e-3, 2.7)),
    "Q2 below, x below": ((1e-12, 1e-9), (1e-2, 2.7)),
}


@pytest.mark.parametrize("region", list(REGIONS))
def test_continuation_extrapolation_matches_lhapdf_reference(pdf, ref, region):
    x, q2 = random_points(pdf, 60, seed=len(region), x_range=REGIONS[region][0], q2_range=REGIONS[region][1])
    for sync_free in (False, True):  # the CPU's compacted path and the GPU's all-branches path
        pdf.sync_free = sync_free
        try:
            got = pdf.xfxQ2_all(as_t(x), as_t(q2)).numpy()
        finally:
            pdf.sync_free = None
        for j, pid in enumerate(pdf.flavours):
            want = np.array([ref.xfxQ2(pid, a, b) for a, b in zip(x, q2)])
            np.testing.assert_allclose(got[:, j], want, rtol=1e-10, atol=1e-13, err_msg=f"{region}, pid {pid}")


def test_outside_grid_modes(pdf):
    """x > x_max (continuation) and unphysical points give NaN, not an exception; nearest freezes at
    the edge; error gives NaN outside and check_range raises."""
    x = as_t([0.5, 1.0 + 1e-12, -0.1, 0.3, math.nan, 1e-12])
    q2 = as_t([100.0, 100.0, 100.0, -1.0, 100.0, 100.0])
    out = pdf.xfxQ2(2, x, q2)
    assert torch.isfinite(out[[0, 5]]).all() and torch.isnan(out[1:5]).all()
    near = load_pdf(str(SET_DIR), extrapolator="nearest")
    np.testing.assert_allclose(near.xfxQ2(2, as_t([1e-12, 0.1]), as_t([1e14, 0.5])),
                               pdf.xfxQ2(2, as_t([1e-9, 0.1]), as_t([1e10, pdf.q2_min])), rtol=1e-15, atol=0)
    err = load_pdf(str(SET_DIR), extrapolator="error")
    got = err.xfxQ2(2, as_t([1e-12, 0.1]), as_t([100.0, 100.0]))
    assert math.isnan(got[0]) and got[1] == pdf.xfxQ2(2, 0.1, 100.0)
    with pytest.raises(PDFError, match="1 of 2 points lie outside"):
        err.check_range(as_t([1e-12, 0.1]), as_t([100.0, 100.0]))
    with pytest.raises(PDFFormatError, match="Extrapolator 'linear' is not supported"):
        load_pdf(str(SET_DIR), extrapolator="linear")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_finite_at_edges_and_in_extrapolation(pdf, dtype):
    """Grid edges, the subgrid boundary and every extrapolation region give finite numbers in
    float32 and float64; float32 follows float64."""
    p = pdf if dtype == torch.float64 else load_pdf(str(SET_DIR), dtype=dtype)
    q_b = 4.92**2
    x = [1e-9, 1.0, 1e-9, 1.0, 0.01, 0.01, 0.01, 1e-12, 1e-12, 0.3, 1e-15, 0.5, 0.99, 1e-9]
    q2 = [pdf.q2_min, pdf.q2_min, pdf.q2_max, pdf.q2_max, q_b, q_b * (1 - 1e-6), q_b * (1 + 1e-6), 10.0, 1e13, 1e14,
          1e-4, 0.0, 1e12, 0.5]
    out = p.xfxQ2_all(torch.tensor(x, dtype=dtype), torch.tensor(q2, dtype=dtype))
    assert out.dtype == dtype and torch.isfinite(out).all()
    assert torch.isfinite(p.alphas_q2(torch.tensor([0.1, 2.0, q_b, 1e12], dtype=dtype))).all()
    if dtype == torch.float32:
        want = pdf.xfxQ2_all(as_t(np.float32(x)), as_t(np.float32(q2)))
        inside = pdf.in_range(as_t(np.float32(x)), as_t(np.float32(q2)))
        np.testing.assert_allclose(out.double()[inside], want[inside], rtol=2e-4, atol=1e-6)


def test_two_and_three_knot_subgrids(tmp_path):
    """LHAPDF 6.4+'s fallback: a 2-knot Q subgrid is log-bilinear, a 3-knot one cubic with
    one-sided slopes; checked against the scalar reference on a synthetic set."""
    d = write_set(tmp_path, "TOY", subgrid_qs=[[1.0, 2.0], [2.0, 3.0, 5.0], [5.0, 8.0, 20.0, 50.0, 200.0]])
    p, r = load_pdf(str(d)), ScalarLHAPDF(d)
    x, q2 = random_points(p, 200, seed=7)
    q2 = np.concatenate([q2, [1.5**2, 2.5**2, 4.0**2, 4.0, 9.0, 25.0]])
    x = np.concatenate([x, [0.01, 0.2, 0.5, 0.3, 0.3, 0.3]])
    for pid in (21, 1, -2):
        np.testing.assert_allclose(p.xfxQ2(pid, as_t(x), as_t(q2)).numpy(),
                                   [r.xfxQ2(pid, a, b) for a, b in zip(x, q2)], rtol=1e-12, atol=1e-15)
    # bilinear in the 2-knot subgrid: the midpoint in log Q^2 is the mean of the two rows
    mid = p.xfxQ2(21, 0.1, 2.0)
    lo, hi = p.xfxQ2(21, 0.1, 1.0), p.xfxQ2(21, 0.1, 4.0 * (1 - 1e-15))
    assert mid.item() == pytest.approx(0.5 * (lo + hi).item(), rel=1e-12)


# -- alpha_s --------------------------------------------------------------------------------------
def test_alphas_at_mz_and_lhapdf_interpolation(pdf, ref):
    assert pdf.alphas_q2(MZ**2).item() == pytest.approx(0.118, abs=1e-4)
    q = np.concatenate([np.exp(np.random.default_rng(0).uniform(np.log(0.5), np.log(2e5), 200)), [1.65, 4.92, 1e5]])
    got = pdf.alphas_q2(as_t(q * q)).numpy()
    np.testing.assert_allclose(got, [ref.alphasQ2(v * v) for v in q], rtol=1e-13)
    assert pdf.alphas_q2(4.92**2).item() == pytest.approx(0.21377883, rel=1e-12)  # the knot value
    assert pdf.alphas_q2(as_t([[1e12, 1e14]])).shape == (1, 2)  # above the table: the last value
    assert math.isnan(pdf.alphas_q2(-1.0).item())


# -- errors ---------------------------------------------------------------------------------------
def test_set_not_found_lists_every_directory(monkeypatch, tmp_path):
    a, b = tmp_path / "one", tmp_path / "two"
    a.mkdir()
    monkeypatch.setenv("LHAPDF_DATA_PATH", f"{a}:{b}")
    monkeypatch.setenv("LHAPATH", str(tmp_path / "three"))
    with pytest.raises(PDFSetNotFoundError) as info:
        load_pdf("NoSuchSet_nnlo")
    msg = str(info.value)
    for p in search_paths():
        assert str(p) in msg and str(p) in info.value.searched
    assert str(b) in msg and "(does not exist)" in msg and "LHAPDF_DATA_PATH" in msg
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)


def test_set_found_through_lhapdf_data_path(monkeypatch, tmp_path):
    if not SET_DIR.is_dir():
        pytest.skip("test set missing")
    (tmp_path / SET).symlink_to(SET_DIR)
    monkeypatch.setenv("LHAPDF_DATA_PATH", str(tmp_path))
    assert find_set(SET) == tmp_path / SET
    assert search_paths()[0] == tmp_path


def test_missing_member_and_unknown_flavour(pdf):
    with pytest.raises(PDFMemberError, match=r"member 1 of set .* is not installed.*Installed members: \[0\]"):
        load_pdf(str(SET_DIR), member=1)
    with pytest.raises(PDFMemberError, match="NumMembers: 101"):
        load_pdf(str(SET_DIR), member=101)
    with pytest.raises(PDFMemberError):
        load_pdf(str(SET_DIR), member=-1)
    with pytest.raises(UnknownFlavourError,
                       match=r"flavour 6 is not in set .* \[-5, -4, -3, -2, -1, 21, 1, 2, 3, 4, 5\]"):
        pdf.xfxQ2(6, 0.1, 100.0)
    with pytest.raises(UnknownFlavourError, match="22"):
        pdf.flavour_index(22)
    with pytest.raises(PDFError, match="do not broadcast"):
        pdf.xfxQ2(21, torch.ones(3, dtype=torch.float64), torch.ones(2, dtype=torch.float64))


@pytest.mark.skipif(importlib.util.find_spec("lhapdf") is not None, reason="lhapdf is installed")
def test_lhapdf_backend_without_lhapdf_says_what_to_do():
    with pytest.raises(PDFError, match="needs the lhapdf Python module"):
        load_pdf(SET, backend="lhapdf")


def test_a_set_the_reader_cannot_read_goes_to_lhapdf_when_installed(tmp_path, monkeypatch):
    import nis.pdf
    from nis.pdf import lhapdf_backend

    d = write_set(tmp_path, "POLY", subgrid_qs=[[1.0, 2.0, 3.0, 4.0]])
    info = d / "POLY.info"
    info.write_text(info.read_text() + "Interpolator: logpolynomial\n")
    with pytest.raises(PDFFormatError, match="Interpolator 'logpolynomial'"):
        load_pdf(str(d))  # auto, no lhapdf module here: the reader's reason
    monkeypatch.setattr(nis.pdf, "lhapdf_available", lambda: True)
    monkeypatch.setattr(lhapdf_backend, "LHAPDFBackedPDF", lambda name, member, **kw: ("lhapdf", name, member))
    assert load_pdf(str(d)) == ("lhapdf", str(d), 0)
    with pytest.raises(PDFFormatError):
        load_pdf(str(d), backend="torch")


def test_malformed_files_are_named(tmp_path):
    d = write_set(tmp_path, "BAD", subgrid_qs=[[1.0, 2.0, 3.0, 4.0]])
    dat = d / "BAD_0000.dat"
    lines = dat.read_text().splitlines()
    dat.write_text("\n".join(lines[:-1]) + "\n")  # drop the closing ---
    with pytest.raises(PDFFormatError, match="must end with '---'"):
        load_pdf(str(d))
    bad = lines[:10] + [lines[10] + " 1.0"] + lines[11:]
    dat.write_text("\n".join(bad) + "\n")
    with pytest.raises(PDFFormatError, match=r"BAD_0000.dat, line 11: 7 values, but 6 flavours"):
        load_pdf(str(d))


# -- torch behaviour ------------------------------------------------------------------------------
def test_batch_shapes_state_dict_and_pickle(pdf, tmp_path):
    x = torch.rand(3, 4, dtype=torch.float64) * 0.5 + 1e-4
    assert pdf.xfxQ2(1, x, 100.0).shape == (3, 4)
    assert pdf.xfxQ2_all(x, torch.full((4,), 1e4, dtype=torch.float64)).shape == (3, 4, 11)
    assert pdf.xfxQ2_all(x[:0], 10.0).shape == (0, 4, 11)
    fresh = load_pdf(str(SET_DIR))
    fresh.load_state_dict(pdf.state_dict())
    assert set(pdf.state_dict()) >= {"interpolator.coefficients", "interpolator.xf", "alphas.q2_knots", "pids"}
    buf = io.BytesIO()
    torch.save(pdf, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    assert torch.equal(loaded.xfxQ2_all(x, 100.0), pdf.xfxQ2_all(x, 100.0))
    pdf.chunk_size = 5  # several chunks give the same numbers
    try:
        assert torch.equal(pdf.xfxQ2_all(x, 100.0), loaded.xfxQ2_all(x, 100.0))
    finally:
        pdf.chunk_size = None


def test_gpu_contraction_equals_cpu_contraction(pdf):
    """The GPU's gather-and-bmm and the CPU's embedding_bag give the same sums."""
    from nis.pdf.interpolate import contract_all

    g = torch.Generator().manual_seed(4)
    coeff = pdf.interpolator.coefficients
    cell = torch.randint(0, coeff.shape[0], (500,), generator=g)
    w = torch.rand(500, 3, 16, generator=g, dtype=torch.float64)
    difference = contract_all(coeff, cell, w, True) - contract_all(coeff, cell, w, False)
    # the two sum in different orders: bound by the rounding of the sum of |terms| (sums that cancel
    # to 1e-11 out of 1e-3 terms differ by more than 1e-13 of themselves)
    scale = contract_all(coeff.abs(), cell, w, False)
    assert (difference.abs() <= 1e-14 * scale).all() and scale.gt(0).any()


@CUDA
def test_cuda_matches_cpu_without_host_syncs(pdf):
    x, q2 = random_points(pdf, 5000, seed=11, x_range=(1e-11, 1.0), q2_range=(0.5, 1e12))
    cpu = pdf.xfxQ2_all(as_t(x), as_t(q2))
    gpu = load_pdf(str(SET_DIR), device="cuda")
    xg, qg = as_t(x).cuda(), as_t(q2).cuda()
    gpu.xfxQ2_all(xg, qg)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        out = gpu.xfxQ2_all(xg, qg)
        one = gpu.xfxQ2(21, xg, qg)
        a = gpu.alphas_q2(qg)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), cpu, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(one.cpu(), cpu[:, 5], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(a.cpu(), pdf.alphas_q2(as_t(q2)), rtol=1e-13, atol=0)
    with pytest.raises(PDFError, match="is on cpu but PDF"):
        gpu.xfxQ2(21, as_t(x), as_t(q2))


# -- Sherpa ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sherpa(tmp_path_factory):
    from nis.pdf import sherpa_reference

    reason = sherpa_reference.unavailable_reason()
    if reason:
        pytest.skip(f"Sherpa's PDF reference unavailable: {reason}")
    return sherpa_reference.SherpaNNPDF(SET, build_dir=tmp_path_factory.mktemp("sherpa_pdf"))


def test_sherpa_nnpdf_agrees_at_knots_and_to_its_interpolation_accuracy(pdf, sherpa):
    """Sherpa reads the same numbers (knots agree exactly) but interpolates them with a 4x4-point
    polynomial (NNPDFDriver), not LHAPDF's Hermite: between knots the two differ by ~1e-5
    typically and up to ~1e-3 where the knots are sparse (highest Q, x -> 1)."""
    xs, q2s = pdf.interpolator.x_knots[:-1:7], pdf.interpolator.q2_knots
    X, Q = (t.reshape(-1).numpy() for t in torch.meshgrid(xs, q2s, indexing="ij"))
    ours, theirs = pdf.xfxQ2_all(as_t(X), as_t(Q)).numpy(), sherpa.xfxQ2(list(pdf.flavours), X, Q)
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-300)

    x, q2 = random_points(pdf, 3000, seed=5)
    ours, theirs = pdf.xfxQ2_all(as_t(x), as_t(q2)).numpy(), sherpa.xfxQ2(list(pdf.flavours), x, q2)
    relevant = np.abs(theirs) > 1e-3 * np.abs(theirs).max(axis=0)
    rel = (np.abs(ours - theirs) / np.abs(theirs))[relevant]
    assert np.median(rel) < 3e-5
    assert np.quantile(rel, 0.95) < 2e-4
    assert (np.abs(ours - theirs) <= 3e-3 * np.abs(theirs).max(axis=0)).all()


# -- helpers --------------------------------------------------------------------------------------
def write_set(root: Path, name: str, subgrid_qs, pids=(-2, -1, 21, 1, 2, 3)) -> Path:
    """A small lhagrid1 set with smooth, made-up x*f values (one sign change for pid 3)."""
    d = root / name
    d.mkdir()
    xs = np.concatenate([np.geomspace(1e-5, 0.1, 12, endpoint=False), np.linspace(0.1, 1.0, 8)])
    (d / f"{name}.info").write_text(
        f"SetDesc: toy\nFormat: lhagrid1\nNumMembers: 1\nFlavors: [{', '.join(map(str, pids))}]\n"
        "AlphaS_Type: ipol\nAlphaS_Qs: [1.0, 10.0, 100.0]\nAlphaS_Vals: [0.3, 0.18, 0.12]\n")
    out = ["PdfType: central", "Format: lhagrid1", "---"]
    for qs in subgrid_qs:
        out += [" ".join(f"{v:.8e}" for v in xs), " ".join(f"{v:.8e}" for v in qs), " ".join(map(str, pids))]
        for x in xs:
            for q in qs:
                vals = [(1 - x) ** (3 + 0.3 * k) * x ** (-0.1 * k) * (1 + 0.2 * math.log(q))
                        * (1 - 4 * x if p == 3 else 1) for k, p in enumerate(pids)]
                out.append(" ".join(f"{v:.8e}" for v in vals))
        out.append("---")
    (d / f"{name}_0000.dat").write_text("\n".join(out) + "\n")
    return d


