"""Reading LHAPDF6 sets from disk: the set's ``.info`` metadata and one member's ``lhagrid1`` file.

A member file ``<NAME>_<member:04d>.dat`` is a YAML header block, then one or more subgrids, each
ended by a line ``---``::

    PdfType: central          <- header (member metadata; overrides the set's .info)
    Format: lhagrid1
    ---
    x_1 x_2 ... x_nx          <- x knots (the same in every subgrid)
    Q_1 Q_2 ... Q_nq          <- Q knots in GeV (Q, not Q^2) of this subgrid
    -5 -4 ... 21 1 ... 5      <- PDG ids of the columns (the same in every subgrid)
    xf(x_1, Q_1) ...          <- nx * nq rows of x*f, x-major: row = ix * nq + iq
    ---

Subgrids split the Q range at flavour thresholds; the boundary Q is repeated as the last knot of
one subgrid and the first of the next. :class:`MemberGrid` keeps all subgrids in one array along
Q^2, duplicates included, as LHAPDF 6.4+ does in memory. Metadata cascade, as in LHAPDF: built-in
defaults (:data:`LHAPDF_DEFAULTS`, from LHAPDF's ``lhapdf.conf``) < set ``.info`` < member header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from .errors import PDFFormatError, PDFMemberError
from .locate import member_file

#: LHAPDF's global defaults for the keys this reader uses (a set's .info overrides them).
LHAPDF_DEFAULTS = {
    "Interpolator": "logcubic",
    "Extrapolator": "continuation",
    "ForcePositive": 0,
    "AlphaS_Type": "analytic",
    "MZ": 91.1876,
}


def _load_yaml(text: str, path: Path) -> dict:
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise PDFFormatError(f"{path}: metadata is not valid YAML ({exc}); fix or re-download the set") from exc
    if not isinstance(data, dict):
        raise PDFFormatError(f"{path}: metadata must be a YAML mapping of keys to values; re-download the set")
    return data


@dataclass(frozen=True)
class SetInfo:
    """A set's metadata: ``name``, its ``directory`` and the merged ``metadata`` (defaults < .info)."""

    name: str
    directory: Path
    metadata: dict

    @property
    def num_members(self) -> int | None:
        """``NumMembers`` from the .info, or None when it does not say."""
        n = self.metadata.get("NumMembers")
        return int(n) if n is not None else None

    def installed_members(self) -> list[int]:
        """Member numbers whose ``.dat`` file is present in the set directory."""
        out = []
        for p in self.directory.glob(f"{self.name}_*.dat"):
            tail = p.stem[len(self.name) + 1:]
            if tail.isdigit():
                out.append(int(tail))
        return sorted(out)


def read_info(set_dir: Path) -> SetInfo:
    """Parse ``<set_dir>/<NAME>.info`` (YAML) over :data:`LHAPDF_DEFAULTS`."""
    set_dir = Path(set_dir)
    path = set_dir / f"{set_dir.name}.info"
    try:
        text = path.read_text()
    except OSError as exc:
        raise PDFFormatError(f"cannot read {path} ({exc}); check the set's installation") from exc
    return SetInfo(set_dir.name, set_dir, {**LHAPDF_DEFAULTS, **_load_yaml(text, path)})


@dataclass(frozen=True)
class MemberGrid:
    """One member's grid, all subgrids joined along Q^2 (float64 numpy arrays).

    x: knots, shape (nx,). q2: Q^2 knots of all subgrids in order, boundary knots repeated, shape
    (nq,). subgrid_sizes: Q knots per subgrid (they sum to nq). pids: PDG ids of the columns.
    xf: x*f values, shape (nx, nq, n_flavours). metadata: defaults < .info < member header.
    """

    path: Path
    metadata: dict
    x: np.ndarray
    q2: np.ndarray
    subgrid_sizes: tuple[int, ...]
    pids: tuple[int, ...]
    xf: np.ndarray


def _numbers(line: str, kind, path: Path, lineno: int, what: str) -> list:
    try:
        return [kind(tok) for tok in line.split()]
    except ValueError as exc:
        raise PDFFormatError(f"{path}, line {lineno}: the {what} line has a non-number ({exc}); "
                             "the file is damaged, re-download the set") from exc


def _parse_subgrid(lines: list[tuple[int, str]], path: Path) -> tuple[np.ndarray, np.ndarray, list[int], np.ndarray]:
    """One subgrid block (lines without the ``---``) -> x knots, Q^2 knots, pids, xf (nx, nq, nf)."""
    if len(lines) < 4:
        first = lines[0][0] if lines else "?"
        raise PDFFormatError(f"{path}, line {first}: a subgrid needs an x-knot line, a Q-knot line, a flavour "
                             f"line and data rows, but has only {len(lines)} lines; re-download the set")
    (lx, xline), (lq, qline), (lf, fline) = lines[:3]
    x = np.array(_numbers(xline, float, path, lx, "x-knot"))
    q = np.array(_numbers(qline, float, path, lq, "Q-knot"))
    pids = _numbers(fline, int, path, lf, "flavour")
    if len(x) < 4 or not np.all(x > 0) or not np.all(np.diff(x) > 0):
        raise PDFFormatError(f"{path}, line {lx}: x knots must be positive, strictly increasing and at least 4 "
                             "(log-bicubic interpolation needs 4); the file is damaged")
    if len(q) < 2 or not np.all(q > 0) or not np.all(np.diff(q) > 0):
        raise PDFFormatError(f"{path}, line {lq}: a subgrid needs at least 2 positive, strictly increasing Q knots")
    if not pids or len(set(pids)) != len(pids):
        raise PDFFormatError(f"{path}, line {lf}: the flavour line must list distinct PDG ids, got {pids}")
    rows = lines[3:]
    nx, nq, nf = len(x), len(q), len(pids)
    if len(rows) != nx * nq:
        raise PDFFormatError(f"{path}, lines {rows[0][0]}-{rows[-1][0]}: {len(rows)} data rows, but "
                             f"{nx} x knots times {nq} Q knots = {nx * nq} expected; the file is damaged")
    for lineno, row in rows:
        if len(row.split()) != nf:
            raise PDFFormatError(f"{path}, line {lineno}: {len(row.split())} values, but {nf} flavours "
                                 f"{pids} declared; the file is damaged")
    try:
        xf = np.array(" ".join(r for _, r in rows).split(), dtype=np.float64)
    except ValueError as exc:
        raise PDFFormatError(f"{path}, lines {rows[0][0]}-{rows[-1][0]}: a data value is not a number ({exc})") from exc
    return x, q * q, pids, xf.reshape(nx, nq, nf)


def read_member(info: SetInfo, member: int) -> MemberGrid:
    """Parse member ``member`` of the set described by ``info``.

    Raises :class:`PDFMemberError` for a member outside ``[0, NumMembers)`` or whose file is not
    installed, :class:`PDFFormatError` for a file that is not valid ``lhagrid1``.
    """
    n = info.num_members
    if not isinstance(member, (int, np.integer)) or member < 0 or (n is not None and member >= n):
        raise PDFMemberError(f"member {member!r} is outside set {info.name!r}: its .info says NumMembers: {n}, "
                             f"so members 0..{(n or 1) - 1} exist; pass one of those")
    path = member_file(info.directory, int(member))
    try:
        text = path.read_text()
    except FileNotFoundError:
        have = info.installed_members()
        raise PDFMemberError(
            f"member {member} of set {info.name!r} is not installed: {path} does not exist. Installed members: "
            f"{have or 'none'}. Use one of those, or install the full set (e.g. `lhapdf get {info.name}`)"
        ) from None
    except OSError as exc:
        raise PDFFormatError(f"cannot read {path} ({exc}); check the set's installation") from exc

    blocks: list[list[tuple[int, str]]] = [[]]
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#"):
            continue
        if line == "---":
            blocks.append([])
        elif line or len(blocks) == 1:
            blocks[-1].append((lineno, line))
    if len(blocks) < 3 or blocks[-1]:
        raise PDFFormatError(f"{path}: expected a header, then subgrids each ended by a line '---' (the file must "
                             "end with '---'); the file is truncated or not lhagrid1, re-download the set")
    header = _load_yaml("\n".join(line for _, line in blocks[0]), path)
    fmt = header.get("Format", info.metadata.get("Format", "lhagrid1"))
    if fmt != "lhagrid1":
        raise PDFFormatError(f"{path}: Format {fmt!r} is not supported; only LHAPDF6 'lhagrid1' grids are read")

    subgrids = [_parse_subgrid(b, path) for b in blocks[1:-1]]
    x0, _, pids0, _ = subgrids[0]
    for k, (x, q2, pids, _) in enumerate(subgrids[1:], start=1):
        if x.shape != x0.shape or not np.array_equal(x, x0):
            raise PDFFormatError(f"{path}: subgrid {k} has different x knots from subgrid 0; like LHAPDF 6.4+, "
                                 "this reader needs the same x knots in every subgrid")
        if pids != pids0:
            raise PDFFormatError(f"{path}: subgrid {k} lists flavours {pids}, subgrid 0 lists {pids0}; they must match")
        if q2[0] < subgrids[k - 1][1][-1]:
            raise PDFFormatError(f"{path}: subgrid {k} starts at Q = {q2[0] ** 0.5:g} GeV, below the end of subgrid "
                                 f"{k - 1}; subgrids must follow each other in Q")
    declared = info.metadata.get("Flavors")
    if declared is not None and sorted(int(p) for p in declared) != sorted(pids0):
        raise PDFFormatError(f"{path}: the grid has flavours {pids0} but {info.name}.info declares Flavors: "
                             f"{declared}; the set is inconsistent, re-download it")
    return MemberGrid(
        path=path,
        metadata={**info.metadata, **header},
        x=x0,
        q2=np.concatenate([s[1] for s in subgrids]),
        subgrid_sizes=tuple(len(s[1]) for s in subgrids),
        pids=tuple(pids0),
        xf=np.concatenate([s[3] for s in subgrids], axis=1),
    )
