#!/usr/bin/env python3
"""Compare crmseg's k-means with scikit-learn's on the same data.

Runs `crmseg cluster` on blobs.parquet and scikit-learn's
KMeans(algorithm="lloyd") on blobs.npy (the same matrix), with the same k,
n_init, max_iter and tol, one after the other on this machine, and prints
both fit times, both inertias, their ratios and both processes' peak memory.

usage: kmeans_vs_sklearn.py CRMSEG_BINARY DATA_DIR [K N_INIT MAX_ITER TOL]
"""
import json
import os
import resource
import subprocess
import sys
import time


def crmseg(binary, data, k, n_init, max_iter, tol):
    out = os.path.join(data, "crmseg-out")
    cmd = [binary, "cluster", "--features", os.path.join(data, "blobs.parquet"), "--id-column", "id",
           "--k", str(k), "--n-init", str(n_init), "--max-iter", str(max_iter), "--tol", str(tol),
           "--seed", "0", "--out", out, "--json"]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def sklearn(data, k, n_init, max_iter, tol):
    # In a child process, so that its peak memory is its own.
    code = f"""
import json, resource, time, numpy as np
from sklearn.cluster import KMeans
x = np.load({os.path.join(data, "blobs.npy")!r})
t = time.perf_counter()
km = KMeans(n_clusters={k}, n_init={n_init}, max_iter={max_iter}, tol={tol}, algorithm="lloyd", random_state=0).fit(x)
fit = time.perf_counter() - t
print(json.dumps({{"fit_seconds": fit, "inertia": float(km.inertia_), "iterations": int(km.n_iter_),
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "matrix_bytes": int(x.nbytes)}}))
"""
    res = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    binary, data = sys.argv[1], sys.argv[2]
    k, n_init, max_iter, tol = (int(sys.argv[3]) if len(sys.argv) > 3 else 8, int(sys.argv[4]) if len(sys.argv) > 4 else 10,
                                int(sys.argv[5]) if len(sys.argv) > 5 else 300, float(sys.argv[6]) if len(sys.argv) > 6 else 1e-4)
    import sklearn as sk
    c = crmseg(binary, data, k, n_init, max_iter, tol)
    s = sklearn(data, k, n_init, max_iter, tol)
    mb = c["matrix_bytes"]
    print(f"data: {c['rows']} rows x {len(c['columns'])} features ({mb / 1e6:.0f} MB), k={k}, n_init={n_init}, max_iter={max_iter}, tol={tol}")
    print(f"{'':24}{'fit s':>10}{'inertia':>20}{'iterations':>12}{'peak RSS MB':>14}{'x data':>8}")
    print(f"{'crmseg ' + c['algorithm']:24}{c['fit_seconds']:10.3f}{c['inertia']:20.6f}{c['iterations']:12d}"
          f"{c['peak_rss_bytes'] / 1e6:14.0f}{c['peak_rss_bytes'] / mb:8.2f}")
    print(f"{'scikit-learn ' + sk.__version__ + ' lloyd':24}{s['fit_seconds']:10.3f}{s['inertia']:20.6f}{s['iterations']:12d}"
          f"{s['peak_rss_bytes'] / 1e6:14.0f}{s['peak_rss_bytes'] / mb:8.2f}")
    speedup = s["fit_seconds"] / c["fit_seconds"]
    gap = c["inertia"] / s["inertia"] - 1
    print(f"speed-up (scikit-learn fit / crmseg fit): {speedup:.2f}x (goal >= 2)")
    print(f"inertia, crmseg relative to scikit-learn: {gap * 100:+.4f}% (goal within 0.1%)")
    print(f"crmseg peak memory / data matrix: {c['peak_rss_bytes'] / mb:.2f} (goal < 3)")


if __name__ == "__main__":
    main()
