"""Gamma-ray spectrometry (radiometrics): element ratios, potassium anomaly, ternary composite.

Inputs are ``(..., y, x)`` grids of potassium (K, %), equivalent thorium (eTh, ppm) and equivalent
uranium (eU, ppm) on one grid, as from :func:`geosurvey.io.read_raster`. Corrected survey grids
hold small negative values where a concentration is near zero (statistical noise of the
background corrections): ratios treat a non-positive denominator or a negative numerator as
undefined (NaN), never as ±infinity or a sign flip.
"""

from __future__ import annotations

from typing import Literal

import dask.array
import numpy as np
import xarray as xr

from geosurvey.errors import InputError
from geosurvey.evidence._common import check_yx, describe, layer_name
from geosurvey.grid import check_same_grid

__all__ = ["potassium_anomaly", "radiometric_ratio", "ternary_rgb"]


def _units(da: xr.DataArray) -> str:
    return str(da.attrs.get("units") or "unknown")


def radiometric_ratio(
    numerator: xr.DataArray, denominator: xr.DataArray, *, name: str | None = None
) -> xr.DataArray:
    """Ratio of two radiometric element grids, e.g. eTh/K, eU/eTh, eU/K.

    NaN where the denominator is ≤ 0, the numerator is < 0, or either is NaN (Minty 1997 computes
    ratios only where both concentrations are meaningful).

    Parameters
    ----------
    numerator, denominator : xarray.DataArray
        Element grids on the same grid (K in %, eTh and eU in ppm), dims ``(..., y, x)``.
    name : str, optional
        Name of the result (default ``"<numerator name>_over_<denominator name>"``).

    Returns
    -------
    xarray.DataArray
        Lazy if the inputs are; units ``"<numerator units>/<denominator units>"`` (``"1"`` when
        they are the same), CRS of the numerator.

    References
    ----------
    Minty, B. R. S. (1997). Fundamentals of airborne gamma-ray spectrometry. *AGSO Journal of
    Australian Geology & Geophysics*, 17(2), 39–50.
    """
    func = "radiometric_ratio"
    check_yx(numerator, func)
    check_yx(denominator, func)
    check_same_grid([numerator, denominator], what=func)
    valid = (denominator > 0) & (numerator >= 0)
    out = (numerator / denominator.where(denominator > 0)).where(valid)
    nu, du = _units(numerator), _units(denominator)
    units = "1" if nu == du else f"{nu}/{du}"
    num_name = numerator.name if numerator.name is not None else "numerator"
    den_name = denominator.name if denominator.name is not None else "denominator"
    return describe(
        out, numerator, f"radiometric_ratio({num_name}/{den_name}, NaN where denominator <= 0)",
        units=units, long_name=f"{num_name}/{den_name} ratio",
        name=name or f"{num_name}_over_{den_name}",
    )


def _lazy_sum(da: xr.DataArray):
    return da.data.sum() if isinstance(da.data, dask.array.Array) else np.sum(da.values)


def potassium_anomaly(
    potassium: xr.DataArray,
    thorium: xr.DataArray,
    *,
    method: Literal["regression", "thorium-normalised"] = "regression",
) -> xr.DataArray:
    r"""Potassium anomaly: K not explained by eTh (potassic alteration indicator).

    Thorium varies mostly with lithology and weathering, potassium also with hydrothermal
    alteration, so K departing from what eTh predicts flags alteration.

    * ``"regression"`` (default): fit :math:`K = a + b\,\mathrm{eTh}` by ordinary least squares
      over every pixel where both are valid, and return the residual
      :math:`K - (a + b\,\mathrm{eTh})` in the units of K (%). The fit is a global step done with
      lazy sums (no rechunking): nothing is computed until the result is.
    * ``"thorium-normalised"``: :math:`K_d = (K - K_s)/K_s` with
      :math:`K_s = (\bar K/\overline{\mathrm{eTh}})\,\mathrm{eTh}` (Saunders et al. 1993), a
      dimensionless relative deviation; NaN where :math:`K_s \le 0`.

    Parameters
    ----------
    potassium : xarray.DataArray
        K (%), dims ``(..., y, x)``.
    thorium : xarray.DataArray
        eTh (ppm) on the same grid.
    method : {"regression", "thorium-normalised"}
        See above.

    Returns
    -------
    xarray.DataArray
        The anomaly; NaN where either input is NaN.

    References
    ----------
    Saunders, D. F., Branch, J. F. & Thompson, C. K. (1993). Tests of Nation Uranium Resource
    Evaluation gamma-ray spectral data in petroleum reconnaissance. *Geophysics*, 58, 1417–1427.
    Pires, A. C. B. (1995). Identificação geofísica de áreas de alteração hidrotermal, Crixás-Guarinos,
    Goiás. *Revista Brasileira de Geociências*, 25(1), 61–68.
    """
    func = "potassium_anomaly"
    check_yx(potassium, func)
    check_yx(thorium, func)
    check_same_grid([potassium, thorium], what=func)
    if method not in ("regression", "thorium-normalised"):
        raise InputError(f"{func}: method={method!r} must be 'regression' or 'thorium-normalised'")
    valid = potassium.notnull() & thorium.notnull()
    k = potassium.where(valid)
    th = thorium.where(valid)
    n = _lazy_sum(valid.astype("float64"))
    sk, sth = _lazy_sum(k.fillna(0)), _lazy_sum(th.fillna(0))
    if method == "regression":
        skth = _lazy_sum((k * th).fillna(0))
        sthth = _lazy_sum((th * th).fillna(0))
        slope = (n * skth - sk * sth) / (n * sthth - sth * sth)
        intercept = (sk - slope * sth) / n
        out = k - (intercept + slope * th)
        units = _units(potassium)
        step = "potassium_anomaly(K - (a + b eTh), OLS over valid pixels)"
        long_name = "potassium anomaly (residual of the K-eTh regression)"
    else:
        expected = (sk / sth) * th
        out = ((k - expected) / expected.where(expected > 0))
        units = "1"
        step = "potassium_anomaly(Kd = (K - Ks)/Ks, Ks = mean(K)/mean(eTh) * eTh; Saunders et al. 1993)"
        long_name = "thorium-normalised potassium deviation"
    return describe(out, potassium, step, units=units, long_name=long_name, name="k_anomaly")


def _stretch(da: xr.DataArray, low: float, high: float) -> xr.DataArray:
    whole = da.chunk({"y": -1, "x": -1}) if da.chunks is not None else da
    limits = whole.quantile([low / 100, high / 100], dim=["y", "x"], skipna=True)
    lo, hi = limits.isel(quantile=0, drop=True), limits.isel(quantile=1, drop=True)
    span = (hi - lo).where(hi > lo)
    return ((da - lo) / span).clip(0, 1)


def ternary_rgb(
    potassium: xr.DataArray,
    thorium: xr.DataArray,
    uranium: xr.DataArray,
    *,
    percentiles: tuple[float, float] = (2.0, 98.0),
) -> xr.DataArray:
    """K–eTh–eU ternary composite: red = K, green = eTh, blue = eU, each stretched to [0, 1].

    Each element is linearly stretched between its ``percentiles`` (computed over the whole grid:
    a global step on Dask input) and clipped, the usual display of radiometric surveys (white =
    all high, black = all low, red = potassic).

    Parameters
    ----------
    potassium, thorium, uranium : xarray.DataArray
        K (%), eTh (ppm), eU (ppm) on one grid, dims ``(y, x)``.
    percentiles : (float, float)
        Lower and upper stretch limits in percent.

    Returns
    -------
    xarray.DataArray
        Dims ``("band", "y", "x")`` with ``band = ["red", "green", "blue"]``, values in [0, 1],
        float32; NaN where any element is NaN.

    References
    ----------
    Duval, J. S. (1983). Composite color images of aerial gamma-ray spectrometric data.
    *Geophysics*, 48(6), 722–735.
    """
    func = "ternary_rgb"
    layers = {"K": potassium, "eTh": thorium, "eU": uranium}
    for label, layer in layers.items():
        check_yx(layer, func)
        if layer.ndim != 2:
            raise InputError(f"{func}: {label} grid {layer_name(layer)} must be 2-D (y, x), has {layer.dims}")
    check_same_grid([potassium, thorium, uranium], what=func, names=("K", "eTh", "eU"))
    low, high = percentiles
    if not 0 <= low < high <= 100:
        raise InputError(f"{func}: percentiles={percentiles} must satisfy 0 <= low < high <= 100")
    valid = potassium.notnull() & thorium.notnull() & uranium.notnull()
    bands = [_stretch(layer.where(valid), low, high) for layer in layers.values()]
    out = xr.concat(bands, dim=xr.Variable("band", ["red", "green", "blue"]),
                    coords="minimal", compat="override").astype("float32")
    out = out.transpose("band", "y", "x")
    return describe(
        out, potassium, f"ternary_rgb(R=K, G=eTh, B=eU, stretch {low}-{high} percentiles)",
        units="1", long_name="K-eTh-eU ternary composite", name="ternary_rgb",
    )
