"""Keras peer of bench/lstm.c: the same online LSTM updates in TensorFlow.

Model: LSTM(32) on windows of k = 8 steps of 6 inputs, Dense(2) head
(mean, log-variance), Gaussian negative log-likelihood, Adam(1e-3,
clipnorm 5). One tick = one train_on_batch over B series (the window of each
series' last 8 inputs, zero initial state), as tidecast's tick re-runs each
window and trains on the newest value, then one predict_on_batch over the
moved windows for the next bucket's forecast (tidecast's tick also returns
it). Threads: TensorFlow's default (both cores), or 1 when asked.
Prints series*steps/s per batch size.
usage: python peer_keras.py [seconds-per-case] [max B] [threads (0 = default)]
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

K, I, H = 8, 6, 32


def nll(y_true, y_pred):
    mu, s = y_pred[:, 0], y_pred[:, 1]
    e = y_true[:, 0] - mu
    return tf.reduce_mean(0.5 * (s + e * e * tf.exp(-s)))


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    maxb = int(sys.argv[2]) if len(sys.argv) > 2 else 16384
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    tf.random.set_seed(1)
    print(f"# Keras {tf.__version__} LSTM({H}) train_on_batch + predict_on_batch, windows {K}x{I}, "
          f"threads {threads or 'default'}")
    print(f"{'series':>7} {'series*step/s':>14} {'us/tick':>11}")
    for b in (1, 64, 1024, 16384):
        if b > maxb:
            break
        model = tf.keras.Sequential([
            tf.keras.Input(shape=(K, I)),
            tf.keras.layers.LSTM(H),
            tf.keras.layers.Dense(2),
        ])
        model.compile(optimizer=tf.keras.optimizers.Adam(1e-3, clipnorm=5.0), loss=nll)
        rng = np.random.default_rng(1)
        x = rng.standard_normal((b, K, I)).astype(np.float32)
        y = rng.standard_normal((b, 1)).astype(np.float32)
        for _ in range(3):  # trace and warm up
            model.train_on_batch(x, y)
            model.predict_on_batch(x)
        ticks = 0
        t0 = time.perf_counter()
        while True:
            x[:, :-1] = x[:, 1:]  # the window moves one step on
            x[:, -1] = rng.standard_normal((b, I))
            model.train_on_batch(x, y)
            model.predict_on_batch(x)
            ticks += 1
            el = time.perf_counter() - t0
            if el >= secs:
                break
        print(f"{b:7d} {b * ticks / el:14.0f} {1e6 * el / ticks:11.1f}", flush=True)


if __name__ == "__main__":
    main()
