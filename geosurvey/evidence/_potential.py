"""Potential-field transforms of magnetic and gravity grids.

All transforms here need the whole grid (a Fourier transform, or gradients of the NaN-filled
grid), so on Dask input each one is an explicit *global step*: the ``(y, x)`` plane is gathered
into one chunk, transformed lazily in one task, and rechunked back to the input's chunks (see
:func:`geosurvey.evidence._common.apply_whole_grid`). Memory: about 12 times the plane in float64
at the default padding (the padded grid, its half-spectrum and one filtered copy), in one worker.

Conventions, stated once for every function below:

* Input: a ``(y, x)`` DataArray (northing, easting) with a projected CRS in metres and evenly
  spaced coordinates, north-up (``y`` decreasing down the rows, as read from a GeoTIFF) or south-up.
  Leading dimensions (e.g. ``time``) are transformed plane by plane.
* **z is positive down** (Miller & Singh 1994; Blakely 1995): the vertical derivative of the field
  of a source below is positive over it, and so is the tilt derivative. harmonica's
  ``derivative_upward`` has the opposite sign for odd orders.
* FFT details: NaN pixels are filled with the nearest valid value, the mean is removed, the grid
  is padded by mirror reflection by ``pad`` times its size on each side (then up to a fast FFT
  length) and tapered to zero across the padding with a half-cosine; after filtering the padding
  is cut off and the NaN pixels are put back.
* Horizontal derivatives are second-order central differences (:func:`numpy.gradient`, first
  order at the grid edges) of the NaN-filled grid, as in harmonica: they are less prone to edge
  ringing than wavenumber-domain ones.
* Output dtype: float32 for float32 input, float64 otherwise.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from geosurvey.errors import InputError
from geosurvey.evidence._common import apply_whole_grid, describe, grid_spacing
from geosurvey.evidence._fft import Wavenumbers, apply_filters, fill_nearest

__all__ = [
    "analytic_signal",
    "derivative_easting",
    "derivative_northing",
    "reduction_to_pole",
    "tilt_derivative",
    "total_horizontal_gradient",
    "upward_continuation",
    "vertical_derivative",
]

_DEFAULT_PAD = 0.25


# --------------------------------------------------------------------------------------------
# Pure numpy kernels (one 2-D plane in, one out); unit-tested through the public functions.
# --------------------------------------------------------------------------------------------


def _vertical_filter(order: int):
    def make(kk: Wavenumbers) -> np.ndarray:
        return kk.k**order

    return make


def _horizontal(values: np.ndarray, *, dy: float, dx: float, order: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """∂ⁿ/∂northingⁿ and ∂ⁿ/∂eastingⁿ by central differences of the NaN-filled grid."""
    mask = ~np.isfinite(values)
    filled = fill_nearest(np.asarray(values, dtype="float64"), mask)
    d_north, d_east = filled, filled
    for _ in range(order):
        d_north = np.gradient(d_north, dy, axis=0)
        d_east = np.gradient(d_east, dx, axis=1)
    d_north[mask] = np.nan
    d_east[mask] = np.nan
    return d_north, d_east


def _kernel_vertical(values, *, dy, dx, pad, order):
    return apply_filters(values, [_vertical_filter(order)], dy=dy, dx=dx, pad=pad)[0]


def _kernel_horizontal(values, *, dy, dx, order, axis):
    return _horizontal(values, dy=dy, dx=dx, order=order)[axis]


def _gradients(values, *, dy, dx, pad):
    """(∂/∂northing, ∂/∂easting, ∂/∂z down) of one plane."""
    d_north, d_east = _horizontal(values, dy=dy, dx=dx)
    (d_z,) = apply_filters(values, [_vertical_filter(1)], dy=dy, dx=dx, pad=pad)
    return d_north, d_east, d_z


def _kernel_thg(values, *, dy, dx):
    d_north, d_east = _horizontal(values, dy=dy, dx=dx)
    return np.hypot(d_north, d_east)


def _kernel_tilt(values, *, dy, dx, pad):
    d_north, d_east, d_z = _gradients(values, dy=dy, dx=dx, pad=pad)
    return np.arctan2(d_z, np.hypot(d_north, d_east))


def _kernel_analytic_signal(values, *, dy, dx, pad):
    d_north, d_east, d_z = _gradients(values, dy=dy, dx=dx, pad=pad)
    return np.sqrt(d_north**2 + d_east**2 + d_z**2)


def _unit_vector(inclination: float, declination: float) -> tuple[float, float, float]:
    """(east, north, down) components of a direction given in degrees."""
    inc, dec = np.deg2rad(inclination), np.deg2rad(declination)
    return np.cos(inc) * np.sin(dec), np.cos(inc) * np.cos(dec), np.sin(inc)


def _rtp_filter(field, magnetization, field_amplitude, magnetization_amplitude):
    """1/(Θ_f Θ_m) with the amplitude of each Θ taken at its amplitude-correction direction.

    With Θ = n_z + i u, u = (n_e k_e + n_n k_n)/|k| (Blakely 1995, eq. 12.31), the filter is
    ``conj(Θ_f) conj(Θ_m) / (|Θ_f| |Θ_f^a| |Θ_m| |Θ_m^a|)``: exactly ``1/(Θ_f Θ_m)`` when the
    amplitude directions are the true ones, and with a gain bounded by ``1/(sin Iₐ sin Iₘₐ)``
    otherwise (MacLeod, Jones & Dai 1993). Built in real arithmetic (fewer, smaller temporaries);
    the zero wavenumber passes unchanged (the mean is kept).
    """

    def make(kk: Wavenumbers) -> np.ndarray:
        zero = kk.k == 0
        k = np.where(zero, 1.0, kk.k)
        p, q = kk.kx / k, kk.ky / k  # direction cosines of the wavenumber (0 at k = 0)
        p = np.where(zero, 0.0, p)
        q = np.where(zero, 0.0, q)

        def u(direction):
            east, north, _ = direction
            return east * p + north * q

        fz, mz = field[2], magnetization[2]
        uf, um = u(field), u(magnetization)
        denominator = (fz**2 + uf**2) * (magnetization_amplitude[2] ** 2 + u(magnetization_amplitude) ** 2)
        denominator *= (mz**2 + um**2) * (field_amplitude[2] ** 2 + u(field_amplitude) ** 2)
        np.sqrt(denominator, out=denominator)
        out = np.empty(kk.k.shape, dtype="complex128")
        valid = denominator > 0
        out.real = np.divide(fz * mz - uf * um, denominator, out=np.zeros_like(denominator), where=valid)
        out.imag = np.divide(-(fz * um + mz * uf), denominator, out=np.zeros_like(denominator), where=valid)
        out[zero] = 1
        return out

    return make


def _kernel_filters(values, *, dy, dx, pad, filters, dc):
    return apply_filters(values, filters, dy=dy, dx=dx, pad=pad, dc=dc)[0]


# --------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------


def _derived_units(grid: xr.DataArray, order: int) -> str:
    units = grid.attrs.get("units") or "unknown"
    return f"{units}/m" if order == 1 else f"{units}/m{order}"


def _check_pad(pad: float, func: str) -> float:
    if not (0 <= pad <= 2):
        raise InputError(f"{func}: pad={pad!r} must be a fraction of the grid size between 0 and 2")
    return float(pad)


def vertical_derivative(grid: xr.DataArray, *, order: int = 1, pad: float = _DEFAULT_PAD) -> xr.DataArray:
    r"""Vertical derivative of a potential field, **z positive down**, by FFT.

    .. math:: \widehat{\partial^n f / \partial z^n}(\mathbf{k}) = |\mathbf{k}|^n \hat f(\mathbf{k})

    Parameters
    ----------
    grid : xarray.DataArray
        Magnetic (nT) or gravity (mGal) field, dims ``(..., y, x)`` (northing, easting), projected
        CRS in metres. NaN marks nodata. Needs the whole grid: a global step on Dask input.
    order : int
        Order of the derivative (1 or 2 in practice; 2 emphasises shallow sources).
    pad : float
        Padding on each side as a fraction of the grid's size (mirror padding, cosine taper).

    Returns
    -------
    xarray.DataArray
        Same grid, CRS and nodata; units ``"<input units>/m"`` (``/m2`` for order 2). Positive over
        a source below for ``order=1`` (the opposite sign of harmonica's ``derivative_upward``).

    References
    ----------
    Blakely, R. J. (1995). *Potential Theory in Gravity and Magnetic Applications*. Cambridge
    University Press, §12.3.
    Miller, H. G. & Singh, V. (1994). Potential field tilt—a new concept for location of potential
    field sources. *Journal of Applied Geophysics*, 32, 213–217.
    """
    func = "vertical_derivative"
    if not isinstance(order, int | np.integer) or order < 1:
        raise InputError(f"{func}: order={order!r} must be a positive integer")
    dy, dx = grid_spacing(grid, func)
    pad = _check_pad(pad, func)
    out = apply_whole_grid(_kernel_vertical, grid, kwargs={"dy": dy, "dx": dx, "pad": pad, "order": int(order)})
    return describe(
        out, grid, f"vertical_derivative(order={order}, z positive down, FFT, pad={pad})",
        units=_derived_units(grid, order), long_name=f"vertical derivative (order {order}, z down)",
        name=f"{grid.name}_dz{order}" if grid.name is not None else None,
    )


def _horizontal_derivative(grid, order, axis, label):
    func = f"derivative_{label}"
    if not isinstance(order, int | np.integer) or order < 1:
        raise InputError(f"{func}: order={order!r} must be a positive integer")
    dy, dx = grid_spacing(grid, func)
    out = apply_whole_grid(
        _kernel_horizontal, grid, kwargs={"dy": dy, "dx": dx, "order": int(order), "axis": axis}
    )
    return describe(
        out, grid, f"{func}(order={order}, central differences)",
        units=_derived_units(grid, order), long_name=f"{label} derivative (order {order})",
        name=f"{grid.name}_d{label[0]}{order}" if grid.name is not None else None,
    )


def derivative_easting(grid: xr.DataArray, *, order: int = 1) -> xr.DataArray:
    """Derivative towards the east (``∂ⁿf/∂eastingⁿ``) by central differences.

    Parameters
    ----------
    grid : xarray.DataArray
        Field, dims ``(..., y, x)``, projected CRS in metres; NaN is nodata.
    order : int
        Order of the derivative (differences applied ``order`` times).

    Returns
    -------
    xarray.DataArray
        Units ``"<input units>/m"``; same grid, CRS and nodata.
    """
    return _horizontal_derivative(grid, order, 1, "easting")


def derivative_northing(grid: xr.DataArray, *, order: int = 1) -> xr.DataArray:
    """Derivative towards the north (``∂ⁿf/∂northingⁿ``) by central differences.

    Correct on north-up rasters: the signed spacing of the ``y`` coordinate is used, so a field
    increasing to the north has a positive derivative whichever way the rows run.

    Parameters
    ----------
    grid : xarray.DataArray
        Field, dims ``(..., y, x)``, projected CRS in metres; NaN is nodata.
    order : int
        Order of the derivative.

    Returns
    -------
    xarray.DataArray
        Units ``"<input units>/m"``; same grid, CRS and nodata.
    """
    return _horizontal_derivative(grid, order, 0, "northing")


def total_horizontal_gradient(grid: xr.DataArray) -> xr.DataArray:
    r"""Total horizontal gradient :math:`\sqrt{(\partial f/\partial e)^2 + (\partial f/\partial n)^2}`.

    On gravity or pseudo-gravity (reduced-to-pole magnetic) grids its maxima lie over steep
    contacts (Cordell & Grauch 1985).

    Parameters
    ----------
    grid : xarray.DataArray
        Field, dims ``(..., y, x)``, projected CRS in metres; NaN is nodata.

    Returns
    -------
    xarray.DataArray
        Units ``"<input units>/m"``, non-negative; same grid, CRS and nodata.

    References
    ----------
    Cordell, L. & Grauch, V. J. S. (1985). Mapping basement magnetization zones from aeromagnetic
    data in the San Juan Basin, New Mexico. In *The Utility of Regional Gravity and Magnetic
    Anomaly Maps*, SEG, 181–197.
    """
    func = "total_horizontal_gradient"
    dy, dx = grid_spacing(grid, func)
    out = apply_whole_grid(_kernel_thg, grid, kwargs={"dy": dy, "dx": dx})
    return describe(
        out, grid, f"{func}(central differences)", units=_derived_units(grid, 1),
        long_name="total horizontal gradient",
        name=f"{grid.name}_thg" if grid.name is not None else None,
    )


def tilt_derivative(grid: xr.DataArray, *, pad: float = _DEFAULT_PAD) -> xr.DataArray:
    r"""Tilt derivative (tilt angle) of a potential field, **z positive down**.

    .. math:: \theta = \arctan\frac{\partial f/\partial z}{\sqrt{(\partial f/\partial e)^2
              + (\partial f/\partial n)^2}}

    The vertical derivative is taken by FFT, the horizontal ones by central differences. On a
    reduced-to-pole magnetic grid θ is positive over the source, crosses zero near its edges and
    is negative outside (Miller & Singh 1994); it balances strong and weak anomalies.

    Parameters
    ----------
    grid : xarray.DataArray
        Field (usually reduced to the pole), dims ``(..., y, x)``, projected CRS in metres; NaN is
        nodata. Needs the whole grid: a global step on Dask input.
    pad : float
        FFT padding on each side as a fraction of the grid's size.

    Returns
    -------
    xarray.DataArray
        Radians in [-π/2, π/2]; same grid, CRS and nodata.

    References
    ----------
    Miller, H. G. & Singh, V. (1994). Potential field tilt—a new concept for location of potential
    field sources. *Journal of Applied Geophysics*, 32, 213–217.
    """
    func = "tilt_derivative"
    dy, dx = grid_spacing(grid, func)
    pad = _check_pad(pad, func)
    out = apply_whole_grid(_kernel_tilt, grid, kwargs={"dy": dy, "dx": dx, "pad": pad})
    return describe(
        out, grid, f"tilt_derivative(z positive down, FFT pad={pad})", units="rad",
        long_name="tilt derivative (z down)",
        name=f"{grid.name}_tilt" if grid.name is not None else None,
    )


def analytic_signal(grid: xr.DataArray, *, pad: float = _DEFAULT_PAD) -> xr.DataArray:
    r"""Analytic signal amplitude (total gradient amplitude) of a potential field.

    .. math:: |A| = \sqrt{(\partial f/\partial e)^2 + (\partial f/\partial n)^2
              + (\partial f/\partial z)^2}

    Its maxima sit over the edges of magnetic bodies with little dependence on the direction of
    magnetisation, which makes it useful at low magnetic latitudes (Roest et al. 1992).

    Parameters
    ----------
    grid : xarray.DataArray
        Field, dims ``(..., y, x)``, projected CRS in metres; NaN is nodata. Global step on Dask.
    pad : float
        FFT padding on each side as a fraction of the grid's size.

    Returns
    -------
    xarray.DataArray
        Units ``"<input units>/m"``, non-negative; same grid, CRS and nodata.

    References
    ----------
    Roest, W. R., Verhoef, J. & Pilkington, M. (1992). Magnetic interpretation using the 3-D
    analytic signal. *Geophysics*, 57(1), 116–125.
    """
    func = "analytic_signal"
    dy, dx = grid_spacing(grid, func)
    pad = _check_pad(pad, func)
    out = apply_whole_grid(_kernel_analytic_signal, grid, kwargs={"dy": dy, "dx": dx, "pad": pad})
    return describe(
        out, grid, f"analytic_signal(FFT dz, pad={pad})", units=_derived_units(grid, 1),
        long_name="analytic signal amplitude",
        name=f"{grid.name}_as" if grid.name is not None else None,
    )


def _check_angle(value: float, name: str, limit: float, func: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{func}: {name}={value!r} must be a number of degrees") from None
    if not np.isfinite(value) or abs(value) > limit:
        raise InputError(f"{func}: {name}={value} must be a number of degrees in [-{limit}, {limit}]")
    return value


def reduction_to_pole(
    grid: xr.DataArray,
    *,
    inclination: float,
    declination: float,
    magnetization_inclination: float | None = None,
    magnetization_declination: float | None = None,
    pseudo_inclination: float = 20.0,
    pad: float = _DEFAULT_PAD,
) -> xr.DataArray:
    r"""Reduce a total-field magnetic anomaly grid to the pole, by FFT.

    The anomaly is transformed to what it would be with a vertical inducing field and vertical
    magnetisation, so anomalies sit over their sources:

    .. math:: \hat f_{\text{pole}}(\mathbf{k}) = \frac{\hat f(\mathbf{k})}{\Theta_f \Theta_m},
              \qquad \Theta = n_z + i\,\frac{n_e k_e + n_n k_n}{|\mathbf{k}|}

    with :math:`\mathbf{n}` the unit vector (east, north, down) of the geomagnetic field
    (:math:`\Theta_f`) or of the magnetisation (:math:`\Theta_m`) (Blakely 1995, §12.3.1).

    **Low magnetic latitudes.** Where the inclination is small, :math:`|\Theta|` approaches 0 for
    wavenumbers perpendicular to the declination and the plain filter amplifies noise without
    bound (north–south streaks). The strategy here is the amplitude correction of MacLeod, Jones &
    Dai (1993): the phase uses the true inclination, the amplitude uses a pseudo-inclination
    :math:`I_a = \mathrm{sign}(I)\max(|I|, I_{\min})`, which caps the gain at
    :math:`1/\sin^2 I_{\min}`. With ``|inclination| >= pseudo_inclination`` (e.g. 77° in Finland)
    the filter is exactly the one above. Near the equator consider :func:`analytic_signal`, which
    needs no reduction at all.

    Parameters
    ----------
    grid : xarray.DataArray
        Total-field anomaly (nT), dims ``(..., y, x)`` (northing, easting), projected CRS in
        metres; NaN is nodata. Needs the whole grid: a global step on Dask input.
    inclination, declination : float
        Geomagnetic field inclination (degrees, positive down) and declination (degrees east of
        north) over the survey, e.g. from the IGRF at the survey date.
    magnetization_inclination, magnetization_declination : float or None
        Direction of the total magnetisation (degrees). ``None`` (both) means induced
        magnetisation only, parallel to the field.
    pseudo_inclination : float
        :math:`I_{\min}` in degrees for the low-latitude amplitude correction (default 20°);
        0 gives the plain, unstable filter.
    pad : float
        FFT padding on each side as a fraction of the grid's size.

    Returns
    -------
    xarray.DataArray
        Reduced-to-pole anomaly, same units, grid, CRS and nodata; the grid's mean is kept.

    References
    ----------
    Baranov, V. (1957). A new method for interpretation of aeromagnetic maps: pseudo-gravimetric
    anomalies. *Geophysics*, 22(2), 359–382.
    Blakely, R. J. (1995). *Potential Theory in Gravity and Magnetic Applications*. Cambridge
    University Press, §12.3.1.
    MacLeod, I. N., Jones, K. & Dai, T. F. (1993). 3-D analytic signal in the interpretation of
    total magnetic field data at low magnetic latitudes. *Exploration Geophysics*, 24, 679–688.
    """
    func = "reduction_to_pole"
    dy, dx = grid_spacing(grid, func)
    pad = _check_pad(pad, func)
    inclination = _check_angle(inclination, "inclination", 90, func)
    declination = _check_angle(declination, "declination", 360, func)
    if (magnetization_inclination is None) != (magnetization_declination is None):
        raise InputError(
            f"{func}: give both magnetization_inclination and magnetization_declination, or "
            "neither (induced magnetisation only)"
        )
    if magnetization_inclination is None:
        m_inc, m_dec = inclination, declination
    else:
        m_inc = _check_angle(magnetization_inclination, "magnetization_inclination", 90, func)
        m_dec = _check_angle(magnetization_declination, "magnetization_declination", 360, func)
    pseudo = _check_angle(pseudo_inclination, "pseudo_inclination", 90, func)

    def amplitude_inclination(inc: float) -> float:
        return inc if abs(inc) >= abs(pseudo) else float(np.copysign(abs(pseudo), inc if inc else 1.0))

    if pseudo == 0 and min(abs(inclination), abs(m_inc)) < 1:
        raise InputError(
            f"{func}: inclination {inclination}°/{m_inc}° is too close to 0 for the plain filter; "
            "leave pseudo_inclination at its default (20°) or use analytic_signal"
        )
    rtp = _rtp_filter(
        _unit_vector(inclination, declination),
        _unit_vector(m_inc, m_dec),
        _unit_vector(amplitude_inclination(inclination), declination),
        _unit_vector(amplitude_inclination(m_inc), m_dec),
    )
    out = apply_whole_grid(
        _kernel_filters, grid, kwargs={"dy": dy, "dx": dx, "pad": pad, "filters": [rtp], "dc": [1.0]}
    )
    corrected = amplitude_inclination(inclination) != inclination or amplitude_inclination(m_inc) != m_inc
    step = (
        f"reduction_to_pole(inclination={inclination}, declination={declination}, "
        f"magnetization=({m_inc}, {m_dec}), "
        + (f"pseudo-inclination {pseudo} applied, " if corrected else "")
        + f"FFT pad={pad})"
    )
    return describe(
        out, grid, step, units=grid.attrs.get("units") or "unknown",
        long_name="magnetic anomaly reduced to the pole",
        name=f"{grid.name}_rtp" if grid.name is not None else None,
    )


def upward_continuation(grid: xr.DataArray, *, height: float, pad: float = _DEFAULT_PAD) -> xr.DataArray:
    r"""Upward-continue a potential field by ``height`` metres, by FFT.

    .. math:: \hat f_{h}(\mathbf{k}) = e^{-|\mathbf{k}| h}\, \hat f(\mathbf{k})

    A low-pass filter that keeps the field of deeper sources; the grid's mean is kept.

    Parameters
    ----------
    grid : xarray.DataArray
        Field, dims ``(..., y, x)``, projected CRS in metres; NaN is nodata. Global step on Dask.
    height : float
        Continuation height in metres, > 0 (downward continuation is unstable and not offered).
    pad : float
        FFT padding on each side as a fraction of the grid's size.

    Returns
    -------
    xarray.DataArray
        Same units, grid, CRS and nodata.

    References
    ----------
    Blakely, R. J. (1995). *Potential Theory in Gravity and Magnetic Applications*. Cambridge
    University Press, §12.1.
    """
    func = "upward_continuation"
    dy, dx = grid_spacing(grid, func)
    pad = _check_pad(pad, func)
    try:
        height = float(height)
    except (TypeError, ValueError):
        raise InputError(f"{func}: height={height!r} must be a number of metres") from None
    if not (np.isfinite(height) and height > 0):
        raise InputError(
            f"{func}: height={height} must be a positive number of metres (downward continuation "
            "is unstable and not offered)"
        )

    def make(kk: Wavenumbers) -> np.ndarray:
        return np.exp(-kk.k * height)

    out = apply_whole_grid(
        _kernel_filters, grid, kwargs={"dy": dy, "dx": dx, "pad": pad, "filters": [make], "dc": [1.0]}
    )
    return describe(
        out, grid, f"upward_continuation(height={height} m, FFT pad={pad})",
        units=grid.attrs.get("units") or "unknown",
        long_name=f"{grid.attrs.get('long_name', 'field')} upward-continued {height:g} m",
        name=f"{grid.name}_up{height:g}" if grid.name is not None else None,
    )

