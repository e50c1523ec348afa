#!/usr/bin/python3
"""The reference GAN training step of nn's BenchmarkGANStep, in PyTorch.

Generator 100→256→512→784 (LeakyReLU 0.2 between, Tanh out), discriminator
784→512→256→1 (LeakyReLU 0.2, logit out), batch 64, Adam(2e-4, 0.5, 0.999)
on both. One step: fake = G(z) for fresh z; one discriminator step on
[real; fake] (BCE-with-logits against 1 for real rows, 0 for fake rows);
one generator step with the non-saturating loss −log D(fake),
backpropagated through D into G. Tuned for the CPU: D's parameters do not
require gradients during the generator step, gradients are set to None
instead of zeroed, Adam uses its foreach implementation.

Prints one parseable line:
  torch_gan_step steps_per_sec=<float> cpu_ms_per_step=<float> ...
(CPU time over all threads, which on a loaded machine says more than the
wall-clock rate.)
"""
import argparse
import time

import torch
import torch.nn as nn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=5.0, help="measuring time")
    ap.add_argument("--warmup", type=int, default=20, help="untimed steps")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    b = args.batch
    G = nn.Sequential(
        nn.Linear(100, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 784), nn.Tanh())
    D = nn.Sequential(
        nn.Linear(784, 512), nn.LeakyReLU(0.2),
        nn.Linear(512, 256), nn.LeakyReLU(0.2),
        nn.Linear(256, 1))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8, foreach=True)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-8, foreach=True)
    bce = nn.BCEWithLogitsLoss()
    real = torch.rand(b, 784) * 2 - 1
    z = torch.empty(b, 100)
    target_d = torch.cat([torch.ones(b, 1), torch.zeros(b, 1)])
    half_d_weight = 0.5  # mean over 2b rows = (mean real + mean fake)/2
    ones = torch.ones(b, 1)
    d_params = list(D.parameters())

    def step():
        z.normal_()
        fake = G(z)
        # Discriminator step on [real; fake].
        opt_d.zero_grad(set_to_none=True)
        out = D(torch.cat([real, fake.detach()]))
        loss_d = bce(out, target_d) / half_d_weight
        loss_d.backward()
        opt_d.step()
        # Generator step through the updated discriminator.
        for p in d_params:
            p.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        loss_g = bce(D(fake), ones)
        loss_g.backward()
        opt_g.step()
        for p in d_params:
            p.requires_grad_(True)
        return loss_d, loss_g

    for _ in range(args.warmup):
        step()
    n = 0
    t0 = time.perf_counter()
    c0 = time.process_time()
    while True:
        step()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= args.seconds:
            break
    cpu = time.process_time() - c0  # all threads, spinning included
    print(f"torch_gan_step steps_per_sec={n / dt:.2f} cpu_ms_per_step={cpu * 1e3 / n:.2f} "
          f"steps={n} seconds={dt:.2f} threads={args.threads} batch={b} torch={torch.__version__}")


if __name__ == "__main__":
    main()
