"""Count the ops that launch a kernel in one ResNet-18 training step on Keras's torch backend.

Run anywhere torch is installed (a CPU is enough: the count is what the GPU would launch):

    KERAS_BACKEND=torch python tools/gpu_job/count_kernels.py

On 2026-11-26: 1,218 ops per step with Keras's BatchNormalization, 378 with FusedBatchNormalization; a
plain PyTorch ResNet-18 launches about 350. The extra kernels are what made Keras-on-torch training of
ResNet-18 GPU-bound (README.md).
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, os.getcwd())

import keras  # noqa: E402
import torch  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from fer_core.training.architectures import build  # noqa: E402

NO_KERNEL = {"aten::view", "aten::as_strided", "aten::reshape", "aten::unsqueeze", "aten::permute", "aten::expand",
             "aten::t", "aten::transpose", "aten::squeeze", "aten::empty", "aten::empty_strided", "aten::empty_like",
             "aten::result_type", "aten::detach", "aten::alias", "aten::select", "aten::slice", "aten::_unsafe_view",
             "aten::resize_", "aten::lift_fresh", "aten::to", "aten::_to_copy", "aten::item",
             "aten::_local_scalar_dense", "aten::is_nonzero", "aten::contiguous", "aten::clone", "aten::zeros",
             "aten::expand_as", "aten::set_"}


def kernels_per_step(fused: bool) -> int:
    model = build("resnet18", 48, fused_batchnorm=fused)
    x = torch.rand(8, 48, 48, 1)
    y = torch.nn.functional.one_hot(torch.randint(0, 7, (8,)), 7).float()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step() -> None:
        out = model(x, training=True)
        loss = -(y * torch.log(out.float().clamp_min(1e-7))).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    # leaf aten ops (no aten op below them) that are not views or allocations: one kernel each
    return sum(1 for e in prof.events() if e.name.startswith("aten::") and e.name not in NO_KERNEL
               and not any(c.name.startswith("aten::") for c in e.cpu_children))


if __name__ == "__main__":
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    for fused in (False, True):
        print(f"ResNet-18, bf16, FusedBatchNormalization={fused}: {kernels_per_step(fused)} kernel ops per step")
