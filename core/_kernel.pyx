# cython: language_level=3
"""Compiled Dixon-Coles likelihood: weighted negative log-likelihood, exact gradient and
exact Hessian in one pass over the matches, with the GIL released.

The caller chooses the parameter layout: ``attack_pos[t]`` and ``defence_pos[t]`` give the
positions of team t's parameters in ``params``; ``home_pos`` and ``rho_pos`` those of the
home advantage and rho.

Rates: log(lambda) = home + attack[h] - defence[a] and log(mu) = attack[a] - defence[h],
so a larger defence is a better defence.  The factorial terms log(x!) + log(y!) are left
out (they do not depend on the parameters); the caller adds them once.

Goals may be integers or, for the independent Poisson model (``use_rho`` false), fractional
targets such as the goal rates implied by prices: the Poisson terms ``x * log(lambda) -
lambda`` need no integer.  An optional Gaussian prior on attacks and defences is added in
the same call (one pass instead of a second round of numpy operations per evaluation).
"""

from libc.math cimport exp, lgamma, log, INFINITY
from libc.stdlib cimport free, malloc

ctypedef fused goal_t:
    int
    double


cdef inline void _tau_terms(int x, int y, double lam, double mu, double rho,
                            double* tau, double* t, double* s) noexcept nogil:
    """tau(x, y) and its first (t = [d/deta1, d/deta2, d/drho]) and second derivatives
    (s, row-major 3x3) with respect to eta1 = log(lambda), eta2 = log(mu) and rho."""
    cdef int k
    cdef double p
    for k in range(3):
        t[k] = 0.0
    for k in range(9):
        s[k] = 0.0
    if x == 0 and y == 0:
        p = lam * mu
        tau[0] = 1.0 - rho * p
        t[0] = -rho * p
        t[1] = -rho * p
        t[2] = -p
        s[0] = -rho * p
        s[1] = -rho * p
        s[3] = -rho * p
        s[4] = -rho * p
        s[2] = -p
        s[6] = -p
        s[5] = -p
        s[7] = -p
    elif x == 0 and y == 1:
        tau[0] = 1.0 + rho * lam
        t[0] = rho * lam
        t[2] = lam
        s[0] = rho * lam
        s[2] = lam
        s[6] = lam
    elif x == 1 and y == 0:
        tau[0] = 1.0 + rho * mu
        t[1] = rho * mu
        t[2] = mu
        s[4] = rho * mu
        s[5] = mu
        s[7] = mu
    else:
        tau[0] = 1.0 - rho
        t[2] = -1.0


def objective(
    const double[::1] params,
    const Py_ssize_t[::1] attack_pos,
    const Py_ssize_t[::1] defence_pos,
    Py_ssize_t home_pos,
    Py_ssize_t rho_pos,
    const int[::1] home_idx,
    const int[::1] away_idx,
    const goal_t[::1] home_goals,
    const goal_t[::1] away_goals,
    const double[::1] weights,
    bint use_rho,
    double[::1] grad=None,
    double[:, ::1] hess=None,
    double l2=0.0,
    const double[::1] prior_attack=None,
    const double[::1] prior_defence=None,
    const Py_ssize_t[::1] group=None,
    double pin=0.0,
):
    """Weighted negative log-likelihood (without factorial terms), plus the prior
    ``0.5 * l2 * (|attack - prior_attack|^2 + |defence - mean(defence) - prior_defence|^2)``
    when ``l2 > 0`` (the defences must then sit at contiguous positions; missing prior means
    are zero), plus ``0.5 * pin * sum over groups of (sum of the group's attacks)^2`` when
    ``pin > 0`` (``group[t]``: team t's identifiability group, 0..n-1).  The likelihood is
    flat along each group's common shift of attacks and defences; the pin makes the
    Hessian positive definite there and is zero at the centred optimum, which it does not
    move.

    When ``grad`` (length of params) or ``hess`` (square) are given they are overwritten
    with the exact gradient and Hessian of the returned value.  Returns +inf when a tau
    factor is not positive (rho outside the Dixon-Coles validity region).  Fractional goals
    need ``use_rho`` false.
    """
    cdef Py_ssize_t m = home_idx.shape[0]
    cdef Py_ssize_t k, p, q
    cdef bint want_grad = grad is not None
    cdef bint want_hess = hess is not None
    cdef Py_ssize_t i, j
    cdef int n_idx
    cdef double x, y
    cdef double wk, e1, e2, lam, mu, ll, g1, g2, gr, tau, inv, v
    cdef double home = params[home_pos]
    cdef double rho = params[rho_pos] if use_rho else 0.0
    cdef Py_ssize_t ai, aj, di, dj
    cdef double nll = 0.0
    cdef double t[3]
    cdef double s[9]
    cdef double hm[9]
    cdef Py_ssize_t idx[6]
    cdef int eta[6]
    cdef double sign[6]
    cdef bint invalid = False
    if goal_t is double and use_rho:
        raise ValueError("fractional goals need use_rho false")

    if want_grad:
        grad[:] = 0.0
    if want_hess:
        hess[:, :] = 0.0
    eta[0] = 0; eta[1] = 0; eta[2] = 0; eta[3] = 1; eta[4] = 1; eta[5] = 2
    sign[0] = 1.0; sign[1] = -1.0; sign[2] = 1.0; sign[3] = 1.0; sign[4] = -1.0; sign[5] = 1.0
    n_idx = 6 if use_rho else 5

    cdef Py_ssize_t size = params.shape[0]
    # exp of every parameter once, so each match needs products instead of two exp() calls
    cdef double* ex = <double*> malloc(2 * size * sizeof(double))
    if ex == NULL:
        raise MemoryError()
    cdef double* inv_ex = ex + size
    with nogil:
        for k in range(size):
            ex[k] = exp(params[k])
            inv_ex[k] = 1.0 / ex[k]
        for k in range(m):
            wk = weights[k]
            if wk == 0.0:
                continue
            i = home_idx[k]
            j = away_idx[k]
            x = home_goals[k]
            y = away_goals[k]
            ai = attack_pos[i]
            aj = attack_pos[j]
            di = defence_pos[i]
            dj = defence_pos[j]
            e1 = home + params[ai] - params[dj]
            e2 = params[aj] - params[di]
            lam = ex[home_pos] * ex[ai] * inv_ex[dj]
            mu = ex[aj] * inv_ex[di]
            ll = x * e1 - lam + y * e2 - mu
            g1 = x - lam
            g2 = y - mu
            gr = 0.0
            hm[0] = -lam; hm[1] = 0.0; hm[2] = 0.0
            hm[3] = 0.0; hm[4] = -mu; hm[5] = 0.0
            hm[6] = 0.0; hm[7] = 0.0; hm[8] = 0.0
            if use_rho and x <= 1 and y <= 1:
                _tau_terms(<int> x, <int> y, lam, mu, rho, &tau, t, s)
                if tau <= 0.0:
                    invalid = True
                    break
                inv = 1.0 / tau
                ll = ll + log(tau)
                g1 = g1 + t[0] * inv
                g2 = g2 + t[1] * inv
                gr = t[2] * inv
                if want_hess:
                    for p in range(3):
                        for q in range(3):
                            hm[3 * p + q] += s[3 * p + q] * inv - t[p] * t[q] * inv * inv
            nll -= wk * ll
            if want_grad:
                grad[ai] -= wk * g1
                grad[dj] += wk * g1
                grad[home_pos] -= wk * g1
                grad[aj] -= wk * g2
                grad[di] += wk * g2
                if use_rho:
                    grad[rho_pos] -= wk * gr
            if want_hess:
                if hm[1] == 0.0 and hm[2] == 0.0 and hm[5] == 0.0 and hm[8] == 0.0:
                    # no tau term: eta1 and eta2 decouple, nine entries change
                    v = wk * hm[0]
                    hess[ai, ai] -= v
                    hess[dj, dj] -= v
                    hess[home_pos, home_pos] -= v
                    hess[ai, dj] += v
                    hess[ai, home_pos] -= v
                    hess[dj, home_pos] += v
                    v = wk * hm[4]
                    hess[aj, aj] -= v
                    hess[di, di] -= v
                    hess[aj, di] += v
                else:
                    idx[0] = ai; idx[1] = dj; idx[2] = home_pos
                    idx[3] = aj; idx[4] = di; idx[5] = rho_pos
                    for p in range(n_idx):
                        for q in range(p, n_idx):
                            hess[idx[p], idx[q]] -= (
                                wk * sign[p] * sign[q] * hm[3 * eta[p] + eta[q]]
                            )
    free(ex)
    if invalid:
        return INFINITY
    if want_hess:
        _symmetrize(hess, attack_pos, defence_pos, home_pos, rho_pos, use_rho)
    if l2 > 0.0:
        nll += _add_prior(params, attack_pos, defence_pos, l2, prior_attack, prior_defence,
                          grad, hess)
    if pin > 0.0:
        if group is None or group.shape[0] != attack_pos.shape[0]:
            raise ValueError("pin needs one group label per team")
        nll += _add_pin(params, attack_pos, group, pin, grad, hess)
    return nll


cdef double _add_pin(const double[::1] params, const Py_ssize_t[::1] attack_pos,
                     const Py_ssize_t[::1] group, double pin, double[::1] grad,
                     double[:, ::1] hess):
    """Add the pin's gradient and Hessian in place; return its value."""
    cdef Py_ssize_t n = attack_pos.shape[0]
    cdef Py_ssize_t t, u, g
    cdef double value = 0.0
    cdef double* sums = <double*> malloc(n * sizeof(double))
    if sums == NULL:
        raise MemoryError()
    for g in range(n):
        sums[g] = 0.0
    for t in range(n):
        g = group[t]
        if g < 0 or g >= n:
            free(sums)
            raise ValueError("group labels must lie in 0..n-1")
        sums[g] += params[attack_pos[t]]
    for g in range(n):
        value += sums[g] * sums[g]
    if grad is not None:
        for t in range(n):
            grad[attack_pos[t]] += pin * sums[group[t]]
    if hess is not None:
        for t in range(n):
            for u in range(n):
                if group[t] == group[u]:
                    hess[attack_pos[t], attack_pos[u]] += pin
    free(sums)
    return 0.5 * pin * value


cdef double _add_prior(const double[::1] params, const Py_ssize_t[::1] attack_pos,
                       const Py_ssize_t[::1] defence_pos, double l2,
                       const double[::1] prior_attack, const double[::1] prior_defence,
                       double[::1] grad, double[:, ::1] hess):
    """Add the prior's gradient and Hessian in place; return its value."""
    cdef Py_ssize_t n = attack_pos.shape[0]
    cdef Py_ssize_t d0 = defence_pos[0]
    cdef Py_ssize_t t, r, c
    cdef double value = 0.0, mean_d = 0.0, mean_rd = 0.0, ra, rd, off
    cdef bint has_pa = prior_attack is not None
    cdef bint has_pd = prior_defence is not None
    cdef bint want_grad = grad is not None
    cdef bint want_hess = hess is not None
    for t in range(n):
        if defence_pos[t] != d0 + t:
            raise ValueError("the prior needs the defences at contiguous positions")
        mean_d += params[d0 + t]
    mean_d /= n
    for t in range(n):
        ra = params[attack_pos[t]] - (prior_attack[t] if has_pa else 0.0)
        value += ra * ra
        if want_grad:
            grad[attack_pos[t]] += l2 * ra
        rd = params[d0 + t] - mean_d - (prior_defence[t] if has_pd else 0.0)
        value += rd * rd
        mean_rd += rd
    mean_rd /= n
    if want_grad:
        for t in range(n):
            rd = params[d0 + t] - mean_d - (prior_defence[t] if has_pd else 0.0)
            grad[d0 + t] += l2 * (rd - mean_rd)
    if want_hess:
        off = l2 / n
        for t in range(n):
            hess[attack_pos[t], attack_pos[t]] += l2
        for r in range(d0, d0 + n):
            for c in range(d0, d0 + n):
                hess[r, c] -= off
            hess[r, r] += l2
    return 0.5 * l2 * value


cdef void _symmetrize(double[:, ::1] hess, const Py_ssize_t[::1] attack_pos,
                      const Py_ssize_t[::1] defence_pos, Py_ssize_t home_pos,
                      Py_ssize_t rho_pos, bint use_rho) noexcept nogil:
    """Only the pairs (p, q) with p listed before q in a match were accumulated, at
    hess[idx[p], idx[q]]; fold every entry onto both triangles."""
    cdef Py_ssize_t size = hess.shape[0]
    cdef Py_ssize_t r, c
    cdef double v
    for r in range(size):
        for c in range(r + 1, size):
            v = hess[r, c] + hess[c, r]
            hess[r, c] = v
            hess[c, r] = v


def components(const int[::1] home_idx, const int[::1] away_idx,
               const double[::1] weights, int n_teams):
    """Connected components of the who-played-whom graph (matches with positive weight),
    as labels 0..k-1 in order of first appearance; -1 marks a team with no such match."""
    import numpy as np
    parent_arr = np.arange(n_teams, dtype=np.intp)
    label_arr = np.full(n_teams, -1, dtype=np.intp)
    cdef Py_ssize_t[::1] parent = parent_arr
    cdef Py_ssize_t[::1] label = label_arr
    cdef Py_ssize_t k, a, b, r, nxt
    cdef Py_ssize_t count = 0
    cdef Py_ssize_t m = home_idx.shape[0]
    with nogil:
        for k in range(m):
            if weights[k] <= 0.0:
                continue
            a = home_idx[k]
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            b = away_idx[k]
            while parent[b] != b:
                parent[b] = parent[parent[b]]
                b = parent[b]
            if a != b:
                parent[b] = a
            label[home_idx[k]] = -2
            label[away_idx[k]] = -2
        for k in range(n_teams):
            if label[k] == -1:
                continue
            r = k
            while parent[r] != r:
                r = parent[r]
            if label[r] < 0:
                label[r] = count
                count += 1
            label[k] = label[r]
    return label_arr


def rho_limits(const double[::1] x, Py_ssize_t n, double keep):
    """``(lo, hi)``: the rho interval keeping every tau at least ``1 - keep`` for every pair
    of the ``n`` teams of ``x = [attacks, defences, home, ...]`` (see
    :func:`core._solver.rho_region`), in one pass."""
    cdef Py_ssize_t t
    cdef double a_max = -INFINITY, d_min = INFINITY, s_max = -INFINITY, home = x[2 * n]
    for t in range(n):
        a_max = max(a_max, x[t])
        d_min = min(d_min, x[n + t])
        s_max = max(s_max, x[t] - x[n + t])
    cdef double log_product = home + 2.0 * s_max
    return (-keep * exp(-(a_max - d_min + max(home, 0.0))),
            keep * (1.0 if log_product <= 0.0 else exp(-log_product)))


def team_totals(const int[::1] home_idx, const int[::1] away_idx,
                const goal_t[::1] home_goals, const goal_t[::1] away_goals,
                const double[::1] weights, Py_ssize_t n_teams):
    """``(totals, (sum w, sum w * home goals, sum w * away goals))`` in one pass, with
    ``totals`` the (3, n_teams) weighted matches played, goals scored and goals conceded
    per team."""
    import numpy as np
    out = np.zeros((3, n_teams))
    cdef double[:, ::1] o = out
    cdef Py_ssize_t k, i, j
    cdef double w, sw = 0.0, sx = 0.0, sy = 0.0
    with nogil:
        for k in range(home_idx.shape[0]):
            w = weights[k]
            i = home_idx[k]
            j = away_idx[k]
            o[0, i] += w
            o[0, j] += w
            o[1, i] += w * home_goals[k]
            o[1, j] += w * away_goals[k]
            o[2, i] += w * away_goals[k]
            o[2, j] += w * home_goals[k]
            sw += w
            sx += w * home_goals[k]
            sy += w * away_goals[k]
    return out, (sw, sx, sy)


def factorial_sum(const goal_t[::1] home_goals, const goal_t[::1] away_goals,
                  const double[::1] weights):
    """sum of w * (log Gamma(x + 1) + log Gamma(y + 1)): the likelihood's parameter-free
    part."""
    cdef Py_ssize_t k
    cdef double total = 0.0
    with nogil:
        for k in range(home_goals.shape[0]):
            if weights[k] != 0.0:
                total += weights[k] * (lgamma(home_goals[k] + 1.0) + lgamma(away_goals[k] + 1.0))
    return total

