"""statsmodels peer of bench/arima.c: SARIMAX(2,0,1)(1,1,1,24) (PEERS.md
defaults: no constant, stationarity/invertibility enforced, approximate
diffuse differencing states, lbfgs) on the same series.

usage: peer_statsmodels.py SERIES PARAMS_TIDECAST PARAMS_OUT
Prints the fit time (median of 3), the log-likelihood statsmodels reaches
and the one it gives to tidecast's parameters, the per-observation cost of
res.extend() (PEERS.md's update protocol) and of a forecast; writes its own
parameters to PARAMS_OUT in bench/arima --loglik-at format.
"""
import statistics
import sys
import time
import warnings

import numpy as np
from statsmodels.tsa.statespace.sarimax import SARIMAX

warnings.filterwarnings("ignore")


def main():
    y = np.loadtxt(sys.argv[1])
    ours = np.loadtxt(sys.argv[2])
    fits = []
    res = None
    for _ in range(3):
        t0 = time.perf_counter()
        mod = SARIMAX(y, order=(2, 0, 1), seasonal_order=(1, 1, 1, 24))
        res = mod.fit(disp=False, cov_type="none", maxiter=200)
        fits.append(time.perf_counter() - t0)
    p = res.params
    print(f"statsmodels fit: {statistics.median(fits):.3f} s (median of 3), llf {res.llf:.3f} "
          f"(approximate diffuse, burn {res.loglikelihood_burn})")
    print("statsmodels params: phi %.5f %.5f theta %.5f Phi %.5f Theta %.5f sigma2 %.6g" % tuple(p))
    print(f"statsmodels llf at tidecast params: {mod.loglike(ours):.3f}")
    # The default approximate-diffuse prior has variance 1e6 in data units,
    # which is not diffuse for series at the level of thousands; the exact
    # diffuse likelihood differs from tidecast's (R's) by a constant only.
    mx = SARIMAX(y, order=(2, 0, 1), seasonal_order=(1, 1, 1, 24), use_exact_diffuse=True)
    print(f"statsmodels exact-diffuse llf: at its params {mx.loglike(p):.3f}, "
          f"at tidecast params {mx.loglike(ours):.3f}")
    with open(sys.argv[3], "w") as f:
        f.write(" ".join(repr(float(v)) for v in p) + "\n")
    # per-observation update through extend(), fixed parameters (PEERS.md step 4b)
    n_train = len(y) - 200
    base = mod.clone(y[:n_train]).filter(p)
    upd = []
    for _ in range(3):
        r = base
        t0 = time.perf_counter()
        for t in range(n_train, len(y)):
            r = r.extend(y[t:t + 1])
        upd.append((time.perf_counter() - t0) / (len(y) - n_train))
    print(f"statsmodels update: extend() {statistics.median(upd) * 1e9:.0f} ns per observation "
          f"(median of 3 loops of {len(y) - n_train})")
    # batch filter with fixed parameters, per observation
    filt = []
    for _ in range(3):
        t0 = time.perf_counter()
        mod.filter(p, cov_type="none")
        filt.append((time.perf_counter() - t0) / len(y))
    print(f"statsmodels batch filter: {statistics.median(filt) * 1e9:.0f} ns per observation")
    fc1, fc24 = [], []
    for _ in range(20):
        t0 = time.perf_counter()
        res.get_forecast(1).summary_frame(alpha=0.2)
        fc1.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res.get_forecast(24).summary_frame(alpha=0.2)
        fc24.append(time.perf_counter() - t0)
    print(f"statsmodels forecast (get_forecast with intervals): h=1 {statistics.median(fc1) * 1e6:.0f} us, "
          f"h=24 {statistics.median(fc24) * 1e6:.0f} us")
    print(f"RESULT fit_s={statistics.median(fits):.4f} llf={res.llf:.4f} "
          f"llf_at_tidecast={mod.loglike(ours):.4f} xllf={mx.loglike(p):.4f} "
          f"xllf_at_tidecast={mx.loglike(ours):.4f} upd_ns={statistics.median(upd) * 1e9:.0f} "
          f"fc1_us={statistics.median(fc1) * 1e6:.1f} fc24_us={statistics.median(fc24) * 1e6:.1f}")


if __name__ == "__main__":
    main()
