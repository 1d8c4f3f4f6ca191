"""Jet images: a jet's constituents as a pT-weighted picture in (pseudorapidity, azimuth).

The standard preprocessing (Cogan et al., arXiv:1407.5675; de Oliveira et al., arXiv:1511.05190),
done on the constituents before pixelation so no intensity is interpolated:

1. **centre**: the origin is the leading exclusive kT subjet (the one of higher pT when the jet is
   clustered exclusively into two, :func:`nis.shower.jets.exclusive_subjet_sets`), at the
   pT-weighted centroid of its constituents in (eta, phi). Azimuths are taken relative to the
   jet's own azimuth and wrapped into (-pi, pi] first, so jets across phi = +-pi are whole;
   the centroid makes the image exactly invariant under a global eta shift or phi rotation.
2. **rotate** in the (eta, phi) plane about the origin so the second subjet (same centroid rule)
   points straight down: to (0, -r).
3. **flip** eta -> -eta if the half eta' < 0 holds more pT than eta' > 0, so the heavier side
   is always on the right.
4. **pixelate** into ``pixels x pixels`` cells of ``pixel_size`` (25 x 25 of 0.1 by default: a
   2.5 x 2.5 window; constituents outside it are dropped), intensity = sum of pT in the cell,
   and **normalise** to unit total intensity.

Array convention: ``image[row, col]``, row = phi' bin from the bottom (phi' = -window / 2) up,
col = eta' bin from left to right; the centre pixel ``(pixels // 2, pixels // 2)`` holds the
leading subjet (for odd ``pixels`` the origin is the pixel's centre), the second subjet lies in
column ``pixels // 2`` below it. Draw with ``imshow(image, origin="lower")``.

A jet of one constituent (or two coinciding subjets) is centred but not rotated.
"""

from __future__ import annotations

import math

import numpy as np

from nis.events.kinematics import pt_eta_phi_m
from nis.shower.jets import exclusive_subjet_sets

__all__ = ["PIXELS", "PIXEL_SIZE", "wrap_phi", "preprocessed_coordinates", "pixelate", "jet_image", "check_image_shape", "check_images"]

PIXELS = 25
PIXEL_SIZE = 0.1


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Azimuth differences wrapped into (-pi, pi]."""
    return math.pi - np.remainder(math.pi - np.asarray(phi, dtype=np.float64), 2 * math.pi)


def _centroid(pt: np.ndarray, x: np.ndarray, y: np.ndarray, members: np.ndarray) -> tuple[float, float]:
    w = pt[members]
    return float((w * x[members]).sum() / w.sum()), float((w * y[members]).sum() / w.sum())


def preprocessed_coordinates(momenta: np.ndarray, subjets: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps 1 to 3 of the module docstring for one jet's constituents (n, 4) (E, px, py, pz).

    ``subjets``: :func:`nis.shower.jets.exclusive_subjet_sets` of these constituents (needs n = 2),
    when already computed. Returns ``(pt, eta', phi')`` of the constituents, each (n,).
    """
    momenta = np.asarray(momenta, dtype=np.float64)
    pt, eta, phi, _ = pt_eta_phi_m(momenta)
    if len(momenta) == 0:
        return pt, eta, phi
    if subjets is None:
        subjets = exclusive_subjet_sets(momenta, (2,), "kt")
    members = subjets[2][1]
    jet_phi = math.atan2(momenta[:, 2].sum(), momenta[:, 1].sum())
    dphi = wrap_phi(phi - jet_phi)
    cx, cy = _centroid(pt, eta, dphi, members[0])
    x, y = eta - cx, dphi - cy
    if len(members) > 1:
        x2, y2 = _centroid(pt, x, y, members[1])
        if x2 * x2 + y2 * y2 > 0:
            theta = -0.5 * math.pi - math.atan2(y2, x2)
            c, s = math.cos(theta), math.sin(theta)
            x, y = c * x - s * y, s * x + c * y
    if pt[x < 0].sum() > pt[x > 0].sum():
        x = -x
    return pt, x, y


def pixelate(pt: np.ndarray, x: np.ndarray, y: np.ndarray, pixels: int = PIXELS, pixel_size: float = PIXEL_SIZE,
             normalise: bool = True) -> np.ndarray:
    """Sum ``pt`` into a (pixels, pixels) image of (x = eta', y = phi') centred on the origin;
    row = y bin, col = x bin; divided by its total when ``normalise`` (and the total is > 0)."""
    col = np.floor(np.asarray(x) / pixel_size + 0.5 * pixels).astype(np.int64)
    row = np.floor(np.asarray(y) / pixel_size + 0.5 * pixels).astype(np.int64)
    inside = (col >= 0) & (col < pixels) & (row >= 0) & (row < pixels)
    image = np.bincount(row[inside] * pixels + col[inside], weights=np.asarray(pt)[inside], minlength=pixels * pixels)
    image = image.reshape(pixels, pixels)
    total = image.sum()
    if normalise and total > 0:
        image = image / total
    return image


def jet_image(momenta: np.ndarray, pixels: int = PIXELS, pixel_size: float = PIXEL_SIZE,
              subjets: dict | None = None) -> np.ndarray:
    """The preprocessed, normalised (pixels, pixels) image of one jet's constituents (n, 4)."""
    pt, x, y = preprocessed_coordinates(momenta, subjets)
    return pixelate(pt, x, y, pixels, pixel_size)


def check_image_shape(shape: tuple, pixels: int) -> None:
    """A ValueError naming the expected and the received shape unless ``shape`` is (N, pixels, pixels)
    or (N, 1, pixels, pixels)."""
    shape = tuple(shape)
    if (len(shape) == 3 and shape[1:] == (pixels, pixels)) or (len(shape) == 4 and shape[1:] == (1, pixels, pixels)):
        return
    raise ValueError(
        f"jet images must have shape (N, {pixels}, {pixels}) (or (N, 1, {pixels}, {pixels})): this classifier"
        f" was trained on {pixels} x {pixels} images; got shape {shape}"
    )


def check_images(images, pixels: int) -> np.ndarray:
    """``images`` as a float32 array (N, pixels, pixels) (a channel axis of 1 is dropped), or the
    ValueError of :func:`check_image_shape`."""
    check_image_shape(np.shape(images), pixels)
    return np.asarray(images, dtype=np.float32).reshape(-1, pixels, pixels)
