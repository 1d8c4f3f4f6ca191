"""Built-in test integrands with known integrals.

Every class implements :class:`~nis.integrator.integrand.Integrand` and carries

* ``name`` (reflecting the parameters, e.g. ``"camel_8d"`` or ``"camel_8d_w0.1"``),
* ``dims``, ``n_channels`` and ``exact``, the integral over the unit cube, computed once in
  ``__init__`` in closed form (``math.erf``) or, for :class:`Circles`, by a deterministic
  float64 quadrature,
* ``fn(x)``: the plain function at physical points ``x`` of shape ``(n, dims)``,
* ``spec``: the ``{"function": ..., **params}`` mapping that :func:`make_test_function` rebuilds
  it from.

Single-channel functions evaluate with the identity mapping: ``value = f(u)``, ``features = u``,
``prior = None``. :class:`RingLine` has two channels (polar around the ring centre, identity).

``evaluate`` is pure torch: constants are Python scalars, so it runs on u's device and dtype
without host synchronisation.

Use :func:`make_test_function` (``TEST_FUNCTIONS`` lists the names) to build one by name.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np
import torch
from numpy.polynomial.legendre import leggauss
from torch import Tensor

from nis.integrator.integrand import Integrand, IntegrandBatch

__all__ = [
    "Gaussian",
    "Camel",
    "Annulus",
    "Circles",
    "Polynomial",
    "RingLine",
    "TEST_FUNCTIONS",
    "TestFunctionParameterError",
    "make_test_function",
]

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class TestFunctionParameterError(TypeError, ValueError):
    """An unknown parameter for a test function (both a TypeError and a ValueError)."""

    __test__ = False  # not a pytest test class


# ----------------------------------------------------------------------------- helpers


def _check_dims(dims, who: str) -> int:
    if isinstance(dims, bool) or not isinstance(dims, numbers.Integral):
        if isinstance(dims, numbers.Real) and not isinstance(dims, bool) and float(dims).is_integer():
            dims = int(dims)
        else:
            raise ValueError(f"{who}: dims must be a positive integer, got {dims!r}")
    dims = int(dims)
    if dims < 1:
        raise ValueError(f"{who}: dims must be a positive integer (>= 1), got {dims}")
    return dims


def _check_positive(value, what: str, who: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{who}: {what} must be a positive number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{who}: {what} must be a positive finite number (> 0), got {value!r}")
    return value


def _check_finite(value, what: str, who: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{who}: {what} must be a finite number, got {value!r}")
    return float(value)


def _normal_mass(lo: float, hi: float, center: float, width: float) -> float:
    """Probability mass of N(center, width) on [lo, hi], as a difference of two erf without cancellation."""
    a = (lo - center) / (width * _SQRT2)
    b = (hi - center) / (width * _SQRT2)
    if a >= 0.0:  # both tails on the right: use erfc to keep precision
        return 0.5 * (math.erfc(a) - math.erfc(b))
    if b <= 0.0:
        return 0.5 * (math.erfc(-b) - math.erfc(-a))
    return 0.5 * (math.erf(b) - math.erf(a))


def _single_channel(channel: int, name: str) -> None:
    if channel != 0:
        raise ValueError(f"{name} has a single channel (0); got channel {channel}")


def _log_gauss_sum(x: Tensor, center: float, width: float) -> Tensor:
    """log prod_i N(x_i; center, width) for rows of x."""
    dims = x.shape[1]
    sq = ((x - center) ** 2).sum(dim=1)
    return -sq / (2.0 * width * width) - dims * (math.log(width) + _LOG_SQRT_2PI)


def _fmt(v: float) -> str:
    return f"{v:g}"


# ----------------------------------------------------------------------------- classes


class Gaussian(Integrand):
    """Product of normalised 1D normal densities ``prod_i N(x_i; center, width)``.

    exact = ``prod_i [Phi((1 - c)/w) - Phi(-c/w)]`` (closed form, erf).
    Symmetric under permutations of the coordinates (and under x -> 1 - x for c = 0.5).
    """

    def __init__(self, dims: int = 2, width: float = 0.2, center: float = 0.5):
        self.dims = _check_dims(dims, "gaussian")
        self.width = _check_positive(width, "width", "gaussian")
        self.center = _check_finite(center, "center", "gaussian")
        self.n_channels = 1
        name = f"gaussian_{self.dims}d"
        if self.width != 0.2:
            name += f"_w{_fmt(self.width)}"
        if self.center != 0.5:
            name += f"_c{_fmt(self.center)}"
        self.name = name
        self.spec = {"function": "gaussian", "dims": self.dims, "width": self.width, "center": self.center}
        self.exact = _normal_mass(0.0, 1.0, self.center, self.width) ** self.dims

    def fn(self, x: Tensor) -> Tensor:
        return torch.exp(_log_gauss_sum(x, self.center, self.width))

    def evaluate(self, u: Tensor, channel: int = 0) -> IntegrandBatch:
        _single_channel(channel, self.name)
        return IntegrandBatch(value=self.fn(u), features=u)


class Camel(Integrand):
    """Two Gaussians on the diagonal: ``0.5 [prod_i N(x_i; 1/3, w) + prod_i N(x_i; 2/3, w)]``.

    exact = ``0.5 (m_{1/3}^dims + m_{2/3}^dims)`` with ``m_c = Phi((1-c)/w) - Phi(-c/w)``; the two
    masses are equal by symmetry, so exact = ``m_{1/3}^dims``. Symmetric under x -> 1 - x.
    """

    def __init__(self, dims: int = 2, width: float = 0.2):
        self.dims = _check_dims(dims, "camel")
        self.width = _check_positive(width, "width", "camel")
        self.n_channels = 1
        self.name = f"camel_{self.dims}d" + ("" if self.width == 0.2 else f"_w{_fmt(self.width)}")
        self.spec = {"function": "camel", "dims": self.dims, "width": self.width}
        m1 = _normal_mass(0.0, 1.0, 1.0 / 3.0, self.width)
        m2 = _normal_mass(0.0, 1.0, 2.0 / 3.0, self.width)
        self.exact = 0.5 * (m1**self.dims + m2**self.dims)

    def fn(self, x: Tensor) -> Tensor:
        a = _log_gauss_sum(x, 1.0 / 3.0, self.width)
        b = _log_gauss_sum(x, 2.0 / 3.0, self.width)
        return 0.5 * (torch.exp(a) + torch.exp(b))

    def evaluate(self, u: Tensor, channel: int = 0) -> IntegrandBatch:
        _single_channel(channel, self.name)
        return IntegrandBatch(value=self.fn(u), features=u)


class Annulus(Integrand):
    """Indicator of the spherical shell ``r1 < |x - (1/2, ..., 1/2)| < r2``, r1 = 0.2, r2 = 0.45.

    A sharp-edged test. The shell lies inside the cube (r2 < 1/2), so
    exact = ``V_dims (r2^dims - r1^dims)`` with the unit-ball volume ``V_d = pi^(d/2) / Gamma(d/2 + 1)``;
    in 2D ``pi (r2^2 - r1^2) = 0.1625 pi``.
    """

    r1 = 0.2
    r2 = 0.45

    def __init__(self, dims: int = 2):
        self.dims = _check_dims(dims, "annulus")
        self.n_channels = 1
        self.name = f"annulus_{self.dims}d"
        self.spec = {"function": "annulus", "dims": self.dims}
        d = self.dims
        ball = math.pi ** (d / 2.0) / math.gamma(d / 2.0 + 1.0)
        self.exact = ball * (self.r2**d - self.r1**d)

    def fn(self, x: Tensor) -> Tensor:
        rho2 = ((x - 0.5) ** 2).sum(dim=1)
        inside = (rho2 > self.r1 * self.r1) & (rho2 < self.r2 * self.r2)
        return inside.to(x.dtype)

    def evaluate(self, u: Tensor, channel: int = 0) -> IntegrandBatch:
        _single_channel(channel, self.name)
        return IntegrandBatch(value=self.fn(u), features=u)


def _gl_panels(a: float, b: float, n_panels: int, n_gl: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of composite Gauss-Legendre on [a, b] with equal panels."""
    x, w = leggauss(n_gl)
    edges = np.linspace(a, b, n_panels + 1)
    h = np.diff(edges)[:, None]
    mid = 0.5 * (edges[1:] + edges[:-1])[:, None]
    return (mid + 0.5 * h * x).ravel(), (0.5 * h * w).ravel()


def _circle_term(a, b, r, w, power, flip, n_gl=12, phi_panels=4, inner_panels=25, outer_panels=60) -> float:
    """``int_[0,1]^2 g(y) exp(-w |(x-a)^2 + (y-b)^2 - r^2|)`` with g = y^p (or (1-y)^p if flip).

    Polar coordinates (rho, phi) around (a, b), so that the kink of |.| at rho = r is a panel edge.
    phi is split at the directions of the four corners: inside each sector the ray leaves the
    square through one edge, rho_max(phi) is smooth and the integrand analytic. rho is split into
    [0, r] and [r, rho_max(phi)]; composite Gauss-Legendre everywhere (panels of length <= 0.01 in
    rho against a decay length 1/(2 w r) = 0.008 for the defaults). Needs the circle's centre
    inside the square.
    """
    corners = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    ang = sorted(math.atan2(cy - b, cx - a) for cx, cy in corners)
    ang.append(ang[0] + 2.0 * math.pi)
    t_in, wt_in = _gl_panels(0.0, 1.0, inner_panels, n_gl)
    t_out, wt_out = _gl_panels(0.0, 1.0, outer_panels, n_gl)

    def g(y):
        return (1.0 - y) ** power if flip else y**power

    total = 0.0
    for p0, p1 in zip(ang[:-1], ang[1:]):
        phi, wphi = _gl_panels(p0, p1, phi_panels, n_gl)
        c, s = np.cos(phi), np.sin(phi)
        with np.errstate(divide="ignore", invalid="ignore"):
            tx = np.where(c > 0, (1.0 - a) / c, np.where(c < 0, -a / c, np.inf))
            ty = np.where(s > 0, (1.0 - b) / s, np.where(s < 0, -b / s, np.inf))
        rmax = np.minimum(tx, ty)
        for lo, length, t, wt in ((np.zeros_like(phi), np.full_like(phi, r), t_in, wt_in),
                                  (np.full_like(phi, r), rmax - r, t_out, wt_out)):
            rho = lo[:, None] + length[:, None] * t[None, :]
            y = b + rho * s[:, None]
            val = rho * g(y) * np.exp(-w * np.abs(rho * rho - r * r))
            total += float(np.sum(wphi[:, None] * length[:, None] * wt[None, :] * val))
    return total


@functools.lru_cache(maxsize=None)
def _circles_integral(a1, b1, a2, b2, r, w, power, resolution: int = 1) -> float:
    k = int(resolution)
    kw = dict(n_gl=12 + 4 * (k - 1), phi_panels=4 * k, inner_panels=25 * k, outer_panels=60 * k)
    return _circle_term(a1, b1, r, w, power, False, **kw) + _circle_term(a2, b2, r, w, power, True, **kw)


class Circles(Integrand):
    """Two overlapping circular ridges, the FOAM / i-flow "circles" test (2D)::

        f(x, y) = y^p exp(-w |(x-a1)^2 + (y-b1)^2 - r^2|) + (1-y)^p exp(-w |(x-a2)^2 + (y-b2)^2 - r^2|)

    with (a1, b1) = (0.4, 0.6), (a2, b2) = (0.6, 0.4), r = 0.25, w = 1/0.004 = 250, p = 3. The
    centres are 0.283 < 2r apart, so the circles overlap; both lie inside the square. The ridges
    have a kink on the circle and decay length 1/(2 w r) = 0.008. Symmetric under
    (x, y) -> (1 - x, 1 - y).

    exact = 0.013684776724937... by composite Gauss-Legendre in polar coordinates around each
    centre (the kink on a panel edge, the square's corners on sector edges; see ``_circle_term``),
    about 0.2 M nodes per circle in float64, 0.03 s, cached. Doubling or tripling every resolution
    changes the result by < 1e-15 relative, and an independent Cartesian nested
    scipy.integrate.quad (with the kinks as break points) agrees to ~5e-16: the achieved relative
    accuracy is better than 1e-12 (the tests assert 1e-12 against the doubled resolution and 1e-9
    against scipy).
    """

    a1, b1 = 0.4, 0.6
    a2, b2 = 0.6, 0.4
    r = 0.25
    w = 1.0 / 0.004
    power = 3

    def __init__(self, dims: int = 2):
        if _check_dims(dims, "circles") != 2:
            raise ValueError(f"circles is two-dimensional: dims must be 2, got {dims!r}")
        self.dims = 2
        self.n_channels = 1
        self.name = "circles"
        self.spec = {"function": "circles"}
        self.exact = _circles_integral(self.a1, self.b1, self.a2, self.b2, self.r, self.w, self.power)

    def fn(self, x: Tensor) -> Tensor:
        px, py = x[:, 0], x[:, 1]
        rr = self.r * self.r
        d1 = (px - self.a1) ** 2 + (py - self.b1) ** 2 - rr
        d2 = (px - self.a2) ** 2 + (py - self.b2) ** 2 - rr
        return py**self.power * torch.exp(-self.w * d1.abs()) + (1.0 - py) ** self.power * torch.exp(
            -self.w * d2.abs()
        )

    def evaluate(self, u: Tensor, channel: int = 0) -> IntegrandBatch:
        _single_channel(channel, self.name)
        return IntegrandBatch(value=self.fn(u), features=u)


class Polynomial(Integrand):
    """``sum_i (x_i - x_i^2)``; exact = dims / 6. Symmetric under x -> 1 - x."""

    def __init__(self, dims: int = 18):
        self.dims = _check_dims(dims, "polynomial")
        self.n_channels = 1
        self.name = f"polynomial_{self.dims}d"
        self.spec = {"function": "polynomial", "dims": self.dims}
        self.exact = self.dims / 6.0

    def fn(self, x: Tensor) -> Tensor:
        return (x - x * x).sum(dim=1)

    def evaluate(self, u: Tensor, channel: int = 0) -> IntegrandBatch:
        _single_channel(channel, self.name)
        return IntegrandBatch(value=self.fn(u), features=u)


class RingLine(Integrand):
    """A thin ring plus a thin line in 2D, with two channels; one VEGAS grid cannot do both.

    ``f(x) = ring(x) + line(x)``:

    * ring: ``exp(-(rho - R)^2 / (2 s^2)) / Z``, rho = |x - c|, c = (0.5, 0.5), R = 0.3, s = 0.01,
      normalised to 1 over the plane: ``Z = 2 pi [s^2 exp(-R^2/(2 s^2)) + R s sqrt(2 pi) Phi(R/s)]``.
    * line: ``N(x2; y0, sl)`` (times 1 in x1), y0 = 0.25, sl = 0.005: a horizontal line that crosses
      the ring twice, at x1 = 0.5 -+ 0.166, and leaves the disc rho < 0.5 near its ends
      (|x1 - 0.5| > 0.433), where only channel 1 reaches.

    exact = ring mass in the square + ``Phi((1-y0)/sl) - Phi(-y0/sl)``. The ring's mass outside
    the square is at most its mass outside the disc rho < 0.5 (closed form, ``ring_tail_bound``,
    about 1e-87, a 20 s tail), far below float64 resolution, so the ring contributes 1 and
    exact = 2 to double precision.

    Channels (features = the physical point x in both):

    * 0, polar around c: ``rho = u0 / 2``, ``phi = 2 pi u1``, ``x = c + rho (cos phi, sin phi)``,
      ``|dx/du| = (1/2)(2 pi) rho = pi rho``; covers the inscribed disc only.
    * 1, identity: covers the whole square.

    ``value = f(x) |dx/du|``. Prior channel weights ``(ring, line) / f`` computed as a softmax of
    the log densities (no underflow, no 0/0), with the ring weight set to exactly 0 outside the
    disc rho < 0.5 that channel 0 cannot reach.
    """

    center = 0.5
    R = 0.3
    s = 0.01
    y0 = 0.25
    sl = 0.005
    disc = 0.5

    def __init__(self, dims: int = 2):
        if _check_dims(dims, "ring_line") != 2:
            raise ValueError(f"ring_line is two-dimensional: dims must be 2, got {dims!r}")
        self.dims = 2
        self.n_channels = 2
        self.name = "ring_line"
        self.spec = {"function": "ring_line"}
        R, s = self.R, self.s
        phi_rs = 0.5 * math.erfc(-R / (s * _SQRT2))  # Phi(R/s)
        self.ring_norm = 2.0 * math.pi * (
            s * s * math.exp(-R * R / (2 * s * s)) + R * s * math.sqrt(2 * math.pi) * phi_rs
        )
        self.log_ring_norm = math.log(self.ring_norm)
        # ring mass at rho > disc: 2 pi / Z int_disc^inf rho exp(-(rho-R)^2/(2s^2)) drho, closed form
        d = (self.disc - R) / s
        self.ring_tail_bound = (
            2.0 * math.pi
            * (s * s * math.exp(-d * d / 2.0) + R * s * math.sqrt(2 * math.pi) * 0.5 * math.erfc(d / _SQRT2))
            / self.ring_norm
        )
        self.line_mass = _normal_mass(0.0, 1.0, self.y0, self.sl)
        self.ring_mass = 1.0 - self.ring_tail_bound  # rounds to 1.0: the tail is ~1e-87
        self.exact = self.ring_mass + self.line_mass

    # -- the function and its two terms
    def _log_terms(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        dx, dy = x[:, 0] - self.center, x[:, 1] - self.center
        rho2 = dx * dx + dy * dy
        rho = torch.sqrt(rho2)
        log_ring = -((rho - self.R) ** 2) / (2.0 * self.s * self.s) - self.log_ring_norm
        log_line = -((x[:, 1] - self.y0) ** 2) / (2.0 * self.sl * self.sl) - (math.log(self.sl) + _LOG_SQRT_2PI)
        return log_ring, log_line, rho2

    def fn(self, x: Tensor) -> Tensor:
        log_ring, log_line, _ = self._log_terms(x)
        return torch.exp(log_ring) + torch.exp(log_line)

    def prior(self, x: Tensor) -> Tensor:
        """Prior channel weights (n, 2) at physical points x: (ring, line) / f, ring -> 0 outside the disc."""
        log_ring, log_line, rho2 = self._log_terms(x)
        log_ring = torch.where(rho2 < self.disc * self.disc, log_ring, torch.full_like(log_ring, -math.inf))
        return torch.softmax(torch.stack([log_ring, log_line], dim=1), dim=1)

    # -- the channel mappings
    def channel_map(self, u: Tensor, channel: int) -> tuple[Tensor, Tensor]:
        """Map cube points of ``channel`` to physical points; returns ``(x, |dx/du|)``."""
        if channel == 0:
            rho = self.disc * u[:, 0]
            phi = (2.0 * math.pi) * u[:, 1]
            x = torch.stack([self.center + rho * torch.cos(phi), self.center + rho * torch.sin(phi)], dim=1)
            return x, (self.disc * 2.0 * math.pi) * rho
        if channel == 1:
            return u, torch.ones_like(u[:, 0])
        raise ValueError(f"{self.name} has channels 0 and 1; got channel {channel}")

    def evaluate(self, u: Tensor, channel: int) -> IntegrandBatch:
        x, jac = self.channel_map(u, channel)
        return IntegrandBatch(value=self.fn(x) * jac, features=x, prior=self.prior(x))


# ----------------------------------------------------------------------------- registry

TEST_FUNCTIONS: dict[str, type] = {
    "gaussian": Gaussian,
    "camel": Camel,
    "annulus": Annulus,
    "circles": Circles,
    "polynomial": Polynomial,
    "ring_line": RingLine,
}

_PARAMS: dict[str, tuple[str, ...]] = {
    "gaussian": ("dims", "width", "center"),
    "camel": ("dims", "width"),
    "annulus": ("dims",),
    "circles": ("dims",),
    "polynomial": ("dims",),
    "ring_line": ("dims",),
}


def make_test_function(name: str, **params) -> Integrand:
    """Build the built-in test function ``name`` (case-insensitive; see ``TEST_FUNCTIONS``).

    Raises ValueError for an unknown name (listing the known ones) or a bad value (dims < 1,
    width <= 0, ...), and :class:`TestFunctionParameterError` (a TypeError and a ValueError) for a
    parameter the function does not take, listing those it does.
    """
    known = ", ".join(sorted(TEST_FUNCTIONS))
    if not isinstance(name, str):
        raise ValueError(f"test function name must be a string, got {name!r}; known: {known}")
    key = name.strip().lower().replace("-", "_")
    if key not in TEST_FUNCTIONS:
        raise ValueError(f"unknown test function {name!r}; known: {known}")
    accepted = _PARAMS[key]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise TestFunctionParameterError(
            f"test function {key!r} got unknown parameter(s) {', '.join(map(repr, unknown))};"
            f" accepted: {', '.join(accepted) if accepted else '(none)'}"
        )
    return TEST_FUNCTIONS[key](**params)
