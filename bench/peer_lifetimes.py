"""Peer for bench/run_churn.sh: lifetimes' BetaGeoFitter on the same customers.

usage: peer_lifetimes.py FILE [N] [REPS]
FILE holds float64 triples (x, t_x, T) written by `build/bench/churn gen`; the
first N rows are fitted (all by default), REPS times (median reported), with
lifetimes' defaults (BFGS via scipy.optimize.minimize, autograd gradient,
start theta = 0.1, tol 1e-7, penalizer 0). Prints one line:
lifetimes fit: n N time SECONDS r R alpha A a A b B
"""
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
from lifetimes import BetaGeoFitter  # noqa: E402

path = sys.argv[1]
data = np.fromfile(path, dtype=np.float64).reshape(-1, 3)
n = int(sys.argv[2]) if len(sys.argv) > 2 and int(sys.argv[2]) > 0 else len(data)
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 1
data = data[:n]
x, tx, T = data[:, 0].copy(), data[:, 1].copy(), data[:, 2].copy()
times = []
for _ in range(reps):
    m = BetaGeoFitter(penalizer_coef=0.0)
    t0 = time.perf_counter()
    m.fit(x, tx, T)
    times.append(time.perf_counter() - t0)
p = m.params_
print("lifetimes fit: n %d time %.4f s (median of %d) r %.9g alpha %.9g a %.9g b %.9g"
      % (n, float(np.median(times)), reps, p["r"], p["alpha"], p["a"], p["b"]))
