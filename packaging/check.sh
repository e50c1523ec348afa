#!/usr/bin/env bash
# Installs the amd64 packages from dist/ (make packages) with dpkg, checks
# what they put in place and runs the installed binaries, MNIST included
# with no Go toolchain or module cache in reach, then removes them. Needs
# root; CI runs it after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
dpkg -i dist/fedgan_*_amd64.deb dist/fedgan-agent_*_amd64.deb
trap 'dpkg -r fedgan fedgan-agent >/dev/null || true' EXIT
test "$(command -v fedgan)" = /usr/bin/fedgan
/usr/bin/fedgan version
/usr/bin/fedgan-agent --version
/usr/bin/fedgan-fw --version
getent passwd fedgan >/dev/null
test "$(stat -c %U:%a /var/lib/fedgan)" = fedgan:750
for u in fedgan-cloud.service fedgan-edge@.service fedgan-agent@.service; do
	test -f "/lib/systemd/system/$u"
done

# A one-round simulation on MNIST, as an installed gateway would run it:
# no go command on PATH and an empty home, so the files can only come from
# /usr/share/fedgan/mnist.
tmp=$(mktemp -d)
cat > "$tmp/mnist.yaml" <<YAML
name: package-check
model: {latent: 8, data_dim: 784, generator: [16], discriminator: [16]}
training: {global_rounds: 1, local_iters: 1, batch_size: 8}
cloud: {allow_anonymous: true, output: $tmp/out, eval_samples: 0}
communities:
  - id: c1
    data: {kind: mnist, samples: 64}
    edge: {allow_anonymous: true}
    device_count: 1
YAML
env -i PATH=/usr/bin:/bin HOME="$tmp" /usr/bin/fedgan sim -c "$tmp/mnist.yaml" -o "$tmp/out"
test -f "$tmp/out/generator.nnw"
rm -rf "$tmp"
echo "packages: installed, run and removed"
