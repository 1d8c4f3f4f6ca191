"""Variational Bayesian linear layers: any network of nis made Bayesian (the Bayesian INN, BINN).

Bellagente, Haussmann, Luchmann, Plehn, "Understanding event-generation networks via
uncertainties", arXiv:2104.04543. Every weight (and, by default, every bias) gets a factorised
Gaussian posterior ``q = N(mu, exp(logvar))`` and the prior ``p = N(0, prior_std^2)``; training
minimises the ELBO loss :func:`elbo_loss` = mean negative log-likelihood + KL(q||p) / n_train.
Histograms or densities from several weight draws (:func:`weight_draw`) then spread by the
network's uncertainty, which is largest where the training data are sparse.

A layer's ``mode`` says which weights a forward call uses:

* ``"sample"`` (training, the default): fresh weights every call. With ``local_reparam=True``
  (default) the pre-activations are drawn instead of the weights (Kingma, Salimans, Welling
  2015): same distribution per event, independent between events, lower-variance gradients.
* ``"fixed"``: the weights drawn by the last :func:`resample`, the same for every event and
  every call until the next draw: one member of the ensemble, e.g. to generate a whole sample.
* ``"mean"``: the posterior means (a freshly bayesianised network equals the original one).

The mode is independent of ``train()``/``eval()``. Mode, generator and the held draw are not
part of ``state_dict`` (the draw is reproduced by drawing again with the same seed); means,
log-variances and the prior width are.

>>> from nis.flows import Flow
>>> flow = bayesianize(Flow(2, bins=4, hidden=8))
>>> with weight_draw(flow, 1):
...     x, log_q = flow.sample(3, generator=torch.Generator().manual_seed(0))
>>> x.shape, kl_divergence(flow).dim()
(torch.Size([3, 2]), 0)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nis.flows.subnet import MLP

__all__ = [
    "MODES",
    "BayesianLinear",
    "bayesianize",
    "bayesian_layers",
    "kl_divergence",
    "set_mode",
    "resample",
    "weight_draw",
    "elbo_loss",
]

#: the modes of a :class:`BayesianLinear`
MODES = ("sample", "fixed", "mean")

#: initial posterior log-variance, as in the BINN papers (std ~ 0.011)
INIT_LOGVAR = -9.0

def _generator(generator: torch.Generator | int | None) -> torch.Generator | None:
    """An int seed becomes a CPU generator (draws then agree on every device)."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(generator)
    raise TypeError(f"pass a torch.Generator, an int seed or None, got {type(generator).__name__}")


def _randn(shape: tuple[int, ...], like: Tensor, generator: torch.Generator | None) -> Tensor:
    """Standard normal noise of ``like``'s dtype and device, drawn on the generator's device."""
    device = like.device if generator is None else generator.device
    return torch.randn(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def _gaussian_kl(mu: Tensor, logvar: Tensor, log_prior_var: Tensor) -> Tensor:
    """KL(N(mu, e^logvar) || N(0, e^log_prior_var)), summed over all entries."""
    ratio = torch.exp(logvar - log_prior_var)
    return 0.5 * (ratio + mu * mu * torch.exp(-log_prior_var) - 1.0 - logvar + log_prior_var).sum()


class BayesianLinear(nn.Module):
    """``y = x W^T + b`` with a factorised Gaussian posterior on ``W`` (and on ``b``).

    Parameters ``weight_mu``, ``weight_logvar`` (out, in); with ``bayesian_bias`` (default)
    ``bias_mu``, ``bias_logvar`` (out,), otherwise a deterministic ``bias`` (no KL term, i.e. a
    flat prior); ``bias=False`` drops the bias. Buffer ``prior_std`` (scalar): the prior is
    N(0, prior_std^2) on every Bayesian entry. ``init_logvar``: initial log-variance of every
    entry. ``local_reparam``: how ``"sample"`` mode draws (see the module docstring). Means start
    as in ``nn.Linear``; :meth:`from_linear` copies them from a layer. ``generator``: used by
    ``"sample"`` mode (None: the global torch RNG). Input (..., in), output (..., out).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        bayesian_bias: bool = True,
        prior_std: float = 1.0,
        init_logvar: float = INIT_LOGVAR,
        local_reparam: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if in_features < 0 or out_features < 1:
            raise ValueError(
                f"BayesianLinear needs in_features >= 0 and out_features >= 1, got {in_features}, {out_features}"
            )
        if not (math.isfinite(prior_std) and prior_std > 0):
            raise ValueError(f"prior_std must be a positive number, got {prior_std}")
        if not math.isfinite(init_logvar):
            raise ValueError(f"init_logvar must be finite, got {init_logvar}")
        kw = {"device": device, "dtype": dtype}
        self.in_features, self.out_features = in_features, out_features
        self.bayesian_bias = bool(bias and bayesian_bias)
        self.local_reparam = bool(local_reparam)
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features, **kw))
        self.weight_logvar = nn.Parameter(torch.full((out_features, in_features), float(init_logvar), **kw))
        self.register_buffer("weight_eps", torch.zeros(out_features, in_features, **kw), persistent=False)
        if self.bayesian_bias:
            self.bias_mu = nn.Parameter(torch.empty(out_features, **kw))
            self.bias_logvar = nn.Parameter(torch.full((out_features,), float(init_logvar), **kw))
            self.register_buffer("bias_eps", torch.zeros(out_features, **kw), persistent=False)
        elif bias:
            self.bias = nn.Parameter(torch.empty(out_features, **kw))
        else:
            self.register_parameter("bias", None)
        self.register_buffer("prior_std", torch.tensor(float(prior_std), **kw))
        self._mode = "sample"
        self._drawn = False
        self.generator: torch.Generator | None = None
        self.reset_means()

    @classmethod
    def from_linear(cls, linear: nn.Linear, **kwargs) -> BayesianLinear:
        """A Bayesian copy of ``linear``: means = its weight and bias, same dtype and device."""
        w = linear.weight
        layer = cls(
            linear.in_features, linear.out_features, linear.bias is not None, device=w.device, dtype=w.dtype, **kwargs
        )
        with torch.no_grad():
            layer.weight_mu.copy_(w)
            if linear.bias is not None:
                (layer.bias_mu if layer.bayesian_bias else layer.bias).copy_(linear.bias)
        return layer

    def reset_means(self) -> None:
        """Means initialised as ``nn.Linear`` initialises its weight and bias."""
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features else 0.0
        with torch.no_grad():
            if self.in_features:
                nn.init.kaiming_uniform_(self.weight_mu, a=math.sqrt(5))
            b = self._bias_mean()
            if b is not None:
                b.uniform_(-bound, bound)

    @property
    def mode(self) -> str:
        """``"sample"``, ``"fixed"`` or ``"mean"``."""
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
        self._mode = mode

    def _bias_mean(self) -> Tensor | None:
        return self.bias_mu if self.bayesian_bias else self.bias

    def _log_prior_var(self) -> Tensor:
        return 2.0 * torch.log(self.prior_std)

    @torch.no_grad()
    def resample(self, generator: torch.Generator | int | None = None) -> None:
        """Draw and hold one weight realisation (used in ``"fixed"`` mode): weights first, then
        biases, from ``generator`` (an int seeds a CPU generator; None: the global RNG)."""
        generator = _generator(generator)
        self.weight_eps.copy_(_randn(tuple(self.weight_eps.shape), self.weight_eps, generator))
        if self.bayesian_bias:
            self.bias_eps.copy_(_randn(tuple(self.bias_eps.shape), self.bias_eps, generator))
        self._drawn = True

    def weights(self) -> tuple[Tensor, Tensor | None]:
        """``(W, b)`` of the current mode; in ``"sample"`` mode a fresh draw of whole weights."""
        if self._mode == "mean":
            return self.weight_mu, self._bias_mean()
        if self._mode == "fixed":
            if not self._drawn:
                raise RuntimeError("'fixed' mode needs a weight draw: call resample(module, generator) first")
            w_eps, b_eps = self.weight_eps, self.bias_eps if self.bayesian_bias else None
        else:
            w_eps = _randn(tuple(self.weight_mu.shape), self.weight_mu, self.generator)
            b_eps = _randn(tuple(self.bias_mu.shape), self.bias_mu, self.generator) if self.bayesian_bias else None
        w = self.weight_mu + torch.exp(0.5 * self.weight_logvar) * w_eps
        b = self.bias_mu + torch.exp(0.5 * self.bias_logvar) * b_eps if self.bayesian_bias else self._bias_mean()
        return w, b

    def forward(self, x: Tensor) -> Tensor:
        """x: (..., in_features) -> (..., out_features), with the weights of the current mode."""
        if self._mode != "sample" or not self.local_reparam:
            w, b = self.weights()
            return F.linear(x, w, b)
        mean = F.linear(x, self.weight_mu, self._bias_mean())
        bias_var = torch.exp(self.bias_logvar) if self.bayesian_bias else None
        var = F.linear(x * x, torch.exp(self.weight_logvar), bias_var)
        std = torch.sqrt(var.clamp_min(torch.finfo(var.dtype).tiny))
        return mean + std * _randn(tuple(mean.shape), mean, self.generator)

    def kl(self) -> Tensor:
        """KL(q||p) of this layer in closed form (weights and Bayesian biases), a scalar."""
        lp = self._log_prior_var()
        kl = _gaussian_kl(self.weight_mu, self.weight_logvar, lp)
        if self.bayesian_bias:
            kl = kl + _gaussian_kl(self.bias_mu, self.bias_logvar, lp)
        return kl

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={'bayesian' if self.bayesian_bias else self.bias is not None}, "
            f"prior_std={float(self.prior_std):g}, local_reparam={self.local_reparam}, mode={self._mode!r}"
        )


def bayesian_layers(module: nn.Module) -> list[BayesianLinear]:
    """Every :class:`BayesianLinear` inside ``module`` (itself included), in module order."""
    return [m for m in module.modules() if isinstance(m, BayesianLinear)]


def bayesianize(
    module: nn.Module,
    prior_std: float = 1.0,
    layers: str = "all",
    *,
    init_logvar: float = INIT_LOGVAR,
    bayesian_bias: bool = True,
    local_reparam: bool = True,
) -> nn.Module:
    """Replace ``nn.Linear`` layers inside ``module`` (in place) by :class:`BayesianLinear` s
    whose means are the layers' weights and biases; returns ``module`` (a bare ``nn.Linear``
    comes back as its replacement).

    layers: ``"all"``, or ``"last"``: of the ``nn.Linear`` children of each parent, only the last
    one (in an :class:`~nis.flows.subnet.MLP`, its output layer). The learnable constant of an
    MLP without inputs (the spline of a one-dimensional flow) becomes a
    ``BayesianLinear(0, out)`` in ``mlp.net``, whose Bayesian bias is the constant. Zero means
    stay zero, so a flow stays the identity in ``"mean"`` mode. The new layers are in
    ``"sample"`` mode.
    """
    if layers not in ("all", "last"):
        raise ValueError(f"layers must be 'all' or 'last', got {layers!r}")
    kw = {
        "prior_std": prior_std,
        "init_logvar": init_logvar,
        "bayesian_bias": bayesian_bias,
        "local_reparam": local_reparam,
    }
    if isinstance(module, nn.Linear):
        return BayesianLinear.from_linear(module, **kw)
    for parent in list(module.modules()):
        if isinstance(parent, MLP) and parent.net is None:
            const = parent.constant
            layer = BayesianLinear(0, parent.out_features, device=const.device, dtype=const.dtype, **kw)
            with torch.no_grad():
                layer._bias_mean().copy_(const)
            del parent.constant
            parent.net = nn.Sequential(layer)
            continue
        linear = [name for name, child in parent.named_children() if isinstance(child, nn.Linear)]
        for name in linear[-1:] if layers == "last" else linear:
            setattr(parent, name, BayesianLinear.from_linear(getattr(parent, name), **kw))
    if not bayesian_layers(module):
        raise ValueError(f"{type(module).__name__} holds no nn.Linear layer (nor MLP constant) to make Bayesian")
    return module


def _layers(module: nn.Module) -> list[BayesianLinear]:
    found = bayesian_layers(module)
    if not found:
        raise ValueError(f"{type(module).__name__} has no Bayesian layers: call bayesianize(module) first")
    return found


def kl_divergence(module: nn.Module) -> Tensor:
    """Sum of the closed-form KL(q||p) of every Bayesian layer inside ``module``, a scalar."""
    layers = _layers(module)
    total = layers[0].kl()
    for layer in layers[1:]:
        total = total + layer.kl()
    return total


def set_mode(module: nn.Module, mode: str, generator: torch.Generator | int | None = None) -> nn.Module:
    """Set every Bayesian layer's mode (``"sample"``, ``"fixed"``, ``"mean"``); ``generator``:
    the source of ``"sample"`` draws (None: the global RNG). Returns ``module``."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
    generator = _generator(generator)
    for layer in _layers(module):
        layer.mode = mode
        layer.generator = generator
    return module


def resample(module: nn.Module, generator: torch.Generator | int | None) -> nn.Module:
    """Draw one weight realisation for every Bayesian layer, in module order, from ``generator``
    (an int seeds a CPU generator; None: the global RNG), held for ``"fixed"`` mode. The mode is
    not changed. Returns ``module``."""
    generator = _generator(generator)
    for layer in _layers(module):
        layer.resample(generator)
    return module


@contextmanager
def weight_draw(module: nn.Module, generator: torch.Generator | int | None) -> Iterator[nn.Module]:
    """``with weight_draw(flow, gen): ...`` runs the block with one fixed weight draw
    (:func:`resample`, then ``"fixed"`` mode); the previous modes come back on exit."""
    layers = _layers(module)
    previous = [layer.mode for layer in layers]
    resample(module, generator)
    try:
        for layer in layers:
            layer.mode = "fixed"
        yield module
    finally:
        for layer, mode in zip(layers, previous):
            layer.mode = mode


def elbo_loss(nll_mean: Tensor, module: nn.Module, n_train: int) -> Tensor:
    """The negative ELBO per training event: ``nll_mean + KL(q||p) / n_train``.

    nll_mean: the batch mean of ``-log p(x | weights)`` with weights drawn from q (``"sample"``
    mode), an unbiased estimate of the expected NLL per event; n_train: the size of the whole
    training set, so the KL counts once per epoch and the loss is ``-ELBO / n_train``.
    """
    if not (isinstance(n_train, int) and not isinstance(n_train, bool)) or n_train < 1:
        raise ValueError(f"n_train must be the (positive integer) size of the training set, got {n_train!r}")
    return nll_mean + kl_divergence(module) / n_train
