#!/usr/bin/env bash
# Copies, read-only, everything host-worker discovery reads on this host into DEST:
#   DEST/sys, DEST/proc   the sysfs/procfs files, with the kernel's relative links kept as links
#   DEST/commands/NAME.{out,err,rc}   what nvidia-smi and fmpm printed, and their exit status
# `host-worker --discover-only --root DEST` then sees, on any machine, what it sees on this host (it
# answers nvidia-smi and fmpm from DEST/commands), so a host that confuses discovery can be replayed
# in a test or attached to a bug report. Writes nothing
# outside DEST; the GPUs' drivers and Fabric Manager are only asked (nvidia-smi -q, fmpm -l).
#
#   host-worker/tools/capture-host.sh /tmp/host-snapshot && tar czf host-snapshot.tgz -C /tmp host-snapshot
#
# CAPTURE_ROOT=/some/tree reads another tree instead of / (used by the tool's own test).
set -u
dest=${1:?usage: capture-host.sh DEST}
src=${CAPTURE_ROOT:-}
mkdir -p "$dest/commands" || exit 1

# A sysfs file claims 4096 bytes whatever it holds, so files are read with cat, not copied.
copy_file() {
    local f=$1
    [ -f "$src/$f" ] && [ -r "$src/$f" ] || return 0
    mkdir -p "$dest/${f%/*}"
    cat "$src/$f" >"$dest/$f" 2>/dev/null || rm -f "$dest/$f"
}

copy_link() {
    local l=$1
    [ -L "$src/$l" ] || return 0
    mkdir -p "$dest/${l%/*}"
    ln -sfn "$(readlink "$src/$l")" "$dest/$l"
}

record() {
    local name=$1
    shift
    if command -v "$1" >/dev/null 2>&1; then
        timeout 60 "$@" >"$dest/commands/$name.out" 2>"$dest/commands/$name.err"
        echo $? >"$dest/commands/$name.rc"
    else
        : >"$dest/commands/$name.out"
        echo "$1: command not found" >"$dest/commands/$name.err"
        echo 127 >"$dest/commands/$name.rc"
    fi
}

copy_file proc/sys/kernel/hostname
for f in cpuinfo meminfo cmdline version; do copy_file "proc/$f"; done

for f in online possible has_cpu has_normal_memory; do copy_file "sys/devices/system/node/$f"; done
for node in "$src"/sys/devices/system/node/node[0-9]*; do
    [ -d "$node" ] || continue
    n=sys/devices/system/node/${node##*/}
    copy_file "$n/cpulist"
    copy_file "$n/meminfo"
    copy_file "$n/distance"
    for h in "$node"/hugepages/hugepages-*; do
        [ -d "$h" ] || continue
        copy_file "$n/hugepages/${h##*/}/nr_hugepages"
        copy_file "$n/hugepages/${h##*/}/free_hugepages"
    done
done

for f in online present possible; do copy_file "sys/devices/system/cpu/$f"; done
for cpu in "$src"/sys/devices/system/cpu/cpu[0-9]*; do
    [ -d "$cpu" ] || continue
    c=sys/devices/system/cpu/${cpu##*/}
    copy_file "$c/online"
    for f in physical_package_id die_id core_id thread_siblings_list core_siblings_list; do
        copy_file "$c/topology/$f"
    done
done

mkdir -p "$dest/sys/kernel/iommu_groups"
for group in "$src"/sys/kernel/iommu_groups/*; do
    [ -d "$group" ] || continue
    g=sys/kernel/iommu_groups/${group##*/}
    mkdir -p "$dest/$g/devices"
    for d in "$group"/devices/*; do copy_link "$g/devices/${d##*/}"; done
done

# Every function, bridges included: discovery walks a device's real path for the switches above it.
mkdir -p "$dest/sys/bus/pci/devices"
for link in "$src"/sys/bus/pci/devices/*; do
    [ -e "$link" ] || continue
    copy_link "sys/bus/pci/devices/${link##*/}"
    real=$(realpath --relative-to="${src:-/}" "$link")
    for f in vendor device class subsystem_vendor subsystem_device revision numa_node resource \
             current_link_speed current_link_width max_link_speed max_link_width local_cpulist; do
        copy_file "$real/$f"
    done
    copy_link "$real/driver"
    copy_link "$real/iommu_group"
done

record nvidia-smi-q nvidia-smi -q
record nvidia-smi-topo nvidia-smi topo -m
record fmpm-l fmpm -l
uname -a >"$dest/commands/uname.out" 2>&1

count() { find "$dest/$1" -mindepth 1 -maxdepth 1 -name "$2" 2>/dev/null | wc -l; }
echo "capture-host: $(count sys/bus/pci/devices '*') PCI functions, $(count sys/devices/system/cpu 'cpu[0-9]*') CPUs," \
     "$(count sys/devices/system/node 'node[0-9]*') NUMA nodes, $(count sys/kernel/iommu_groups '*') IOMMU groups;" \
     "nvidia-smi -q exit $(cat "$dest/commands/nvidia-smi-q.rc"), fmpm -l exit $(cat "$dest/commands/fmpm-l.rc"); in $dest" >&2
exit 0
