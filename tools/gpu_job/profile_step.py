"""Where a Keras-on-torch training step spends its time (run on the GPU machine; prints a table).

    KERAS_BACKEND=torch python tools/gpu_job/profile_step.py [--steps 20]
"""
import argparse
import cProfile
import io
import os
import pstats
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, os.getcwd())
import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from fer_core.training.architectures import build  # noqa: E402
from fer_core.training.augmentation_layer import augmentation_layer  # noqa: E402
from fer_core.training.distillation import DistillationLoss, accuracy_metric  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=20)
p.add_argument("--size", type=int, default=48)
p.add_argument("--batch", type=int, default=256)
args = p.parse_args()
dev = torch.cuda.is_available()
torch.backends.cudnn.benchmark = True
N = args.batch * args.steps
x = np.random.default_rng(0).uniform(-1, 1, (N, args.size, args.size, 1)).astype("float32")
y = np.zeros((N, 14), "float32")
y[np.arange(N), np.random.default_rng(1).integers(0, 7, N)] = 1


def sync():
    if dev:
        torch.cuda.synchronize()


def make(arch, aug, policy, fused=False):
    keras.mixed_precision.set_global_policy(policy)
    base = build(arch, args.size, fused_batchnorm=fused)
    inp = keras.Input((args.size, args.size, 1))
    layer = augmentation_layer("standard", seed=0) if aug else None
    m = keras.Model(inp, base(layer(inp) if layer else inp))
    m.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=5e-3),
              loss=DistillationLoss(0.0, 2.0, 0.1), metrics=[accuracy_metric()])
    return m


def fit_ms(m):
    m.fit(x[: args.batch * 3], y[: args.batch * 3], batch_size=args.batch, epochs=1, verbose=0)
    sync()
    t = time.perf_counter()
    m.fit(x, y, batch_size=args.batch, epochs=1, verbose=0)
    sync()
    return (time.perf_counter() - t) / args.steps * 1000


rows = []
for arch, aug, policy, fused in (("resnet18", True, "mixed_bfloat16", True), ("resnet18", True, "mixed_bfloat16", False),
                                 ("resnet18", False, "mixed_bfloat16", True), ("resnet18", True, "float32", True),
                                 ("resnet_m", True, "mixed_bfloat16", True), ("resnet_m", False, "mixed_bfloat16", True)):
    rows.append((f"{arch}{' fused BN' if fused else ''}", aug, policy, fit_ms(make(arch, aug, policy, fused))))
    print(rows[-1], flush=True)

# The same network driven by a bare torch loop (no Keras trainer): Keras layers' own overhead + kernels.
keras.mixed_precision.set_global_policy("mixed_bfloat16")
m = make("resnet18", False, "mixed_bfloat16", True)
opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True)
xt = torch.tensor(x[: args.batch], device="cuda" if dev else "cpu")
yt = torch.tensor(y[: args.batch, :7], device=xt.device)
for i in range(args.steps + 3):
    if i == 3:
        sync()
        t = time.perf_counter()
    out = m(xt, training=True)
    loss = -(yt * torch.log(out.float().clamp_min(1e-7))).sum(1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
sync()
rows.append(("resnet18 fused BN, bare torch loop", False, "mixed_bfloat16", (time.perf_counter() - t) / args.steps * 1000))
print(rows[-1], flush=True)

# Augmentation layer alone.
layer = augmentation_layer("standard", seed=0)
for i in range(args.steps + 3):
    if i == 3:
        sync()
        t = time.perf_counter()
    layer(xt, training=True)
sync()
rows.append(("augmentation layer alone", True, "float32", (time.perf_counter() - t) / args.steps * 1000))

# cProfile of the Keras fit of resnet18 (fused BN) with augmentation in bf16.
m = make("resnet18", True, "mixed_bfloat16", True)
m.fit(x[: args.batch * 3], y[: args.batch * 3], batch_size=args.batch, epochs=1, verbose=0)
pr = cProfile.Profile()
pr.enable()
m.fit(x, y, batch_size=args.batch, epochs=1, verbose=0)
sync()
pr.disable()
s = io.StringIO()
pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(25)
print(s.getvalue()[:6000])
print("\n| arch | augment | precision | ms per step (batch %d) |" % args.batch)
for r in rows:
    print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f} |")
