#!/usr/bin/env python3
"""Print a topology of K communities of D devices each, on the Gaussian
model of configs/gaussian.yaml's size (one mode per community, on a
circle), for the scale measurements of docs/RESULTS.md §11:

  bench/scale-topology.py 1000 100 > t.yaml && fedgan sim -c t.yaml
  bench/scale-topology.py 20 2 --cloud-url tcp://127.0.0.1:1883 --rounds 20 --iters 10 > t.yaml && fedgan run -c t.yaml
"""
import argparse
import math

p = argparse.ArgumentParser()
p.add_argument("communities", type=int)
p.add_argument("devices", type=int, help="devices per community")
p.add_argument("--cloud-url", help="an external cloud broker (e.g. Mosquitto)")
p.add_argument("--rounds", type=int, default=3)
p.add_argument("--iters", type=int, default=5)
p.add_argument("--output", default="results/scale")
a = p.parse_args()
cloud = f'url: "{a.cloud_url}"' if a.cloud_url else "allow_anonymous: true"
print(f"""name: scale-{a.communities}x{a.devices}
seed: 1
model: {{latent: 4, data_dim: 2, generator: [32, 32], discriminator: [32, 32]}}
training: {{global_rounds: {a.rounds}, local_iters: {a.iters}, batch_size: 32, mode: sync, sync_period: 5s, round_timeout: 120s}}
cloud: {{{cloud}, output: {a.output}, eval_every: 1000}}
communities:""")
for k in range(a.communities):
    t = 2 * math.pi * k / a.communities
    print(f"  - {{id: c{k}, data: {{kind: gaussian, means: [[{math.cos(t):.3f}, {math.sin(t):.3f}]], std: 0.05, samples: 256}}, "
          f"edge: {{listen: '127.0.0.1:0', allow_anonymous: true}}, device_count: {a.devices}}}")
