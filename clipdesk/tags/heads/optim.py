"""A small L-BFGS minimiser in numpy, for the convex problems of tag heads (no SciPy needed)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from clipdesk.common.progress import CancelToken

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


def lbfgs(
    fun: Objective,
    x0: np.ndarray,
    max_iter: int = 300,
    history: int = 10,
    gtol: float = 1e-6,
    ftol: float = 1e-10,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Minimise a smooth function given as ``fun(x) -> (value, gradient)``; returns the argmin.

    Two-loop recursion with an Armijo backtracking line search. Stops when the gradient's max-norm
    falls below ``gtol``, the value stops improving by ``ftol`` (relative), after ``max_iter``
    iterations, or when ``cancel`` is set (raising CancelledError).
    """
    x = np.asarray(x0, np.float64).copy()
    f, g = fun(x)
    s_hist: deque[np.ndarray] = deque(maxlen=history)
    y_hist: deque[np.ndarray] = deque(maxlen=history)
    for _ in range(max_iter):
        if cancel is not None:
            cancel.raise_if_cancelled()
        if np.max(np.abs(g)) < gtol:
            break
        d = _direction(g, s_hist, y_hist)
        slope = float(g @ d)
        if slope >= 0:  # not a descent direction (curvature pairs went stale): restart
            s_hist.clear()
            y_hist.clear()
            d, slope = -g, -float(g @ g)
        step = 1.0 if s_hist else min(1.0, 1.0 / max(1e-12, float(np.linalg.norm(g))))
        for _ls in range(40):
            x_new = x + step * d
            f_new, g_new = fun(x_new)
            if np.isfinite(f_new) and f_new <= f + 1e-4 * step * slope:
                break
            step *= 0.5
        else:
            break  # no decrease possible along d: at the numerical minimum
        s, y = x_new - x, g_new - g
        if float(s @ y) > 1e-12:
            s_hist.append(s)
            y_hist.append(y)
        done = abs(f - f_new) <= ftol * max(1.0, abs(f))
        x, f, g = x_new, f_new, g_new
        if done:
            break
    return x


def _direction(g: np.ndarray, s_hist: deque[np.ndarray], y_hist: deque[np.ndarray]) -> np.ndarray:
    q = -g.copy()
    alphas = []
    for s, y in zip(reversed(s_hist), reversed(y_hist), strict=True):
        rho = 1.0 / float(y @ s)
        a = rho * float(s @ q)
        alphas.append((a, rho, s, y))
        q -= a * y
    if s_hist:
        s, y = s_hist[-1], y_hist[-1]
        q *= float(s @ y) / float(y @ y)
    for a, rho, s, y in reversed(alphas):
        b = rho * float(y @ q)
        q += (a - b) * s
    return q
