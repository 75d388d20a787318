package io.gpucloud.worker.libvirt;

import io.gpucloud.protocol.job.DomainSpec;
import io.gpucloud.protocol.job.DomainSpec.VcpuPin;
import io.gpucloud.worker.discovery.CpuList;
import io.gpucloud.worker.libvirt.GuestPciLayout.Controller;
import io.gpucloud.worker.libvirt.GuestPciLayout.GuestDevice;
import io.gpucloud.worker.pci.Bdf;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Renders a {@link DomainSpec} as libvirt domain XML laid out like the NVIDIA HGX VM-configuration guide:
 * <ul>
 *   <li>{@code <cpu mode='host-passthrough'>} with a {@code <topology>} derived from the pinned host CPUs
 *       (sockets used, hyperthread siblings) and one {@code <numa>} cell per host node used;</li>
 *   <li>{@code <cputune>}: every vCPU pinned to its host CPU, emulator threads on the same CPUs;</li>
 *   <li>{@code <numatune>}: memory strictly on those host nodes, one {@code <memnode>} per cell;</li>
 *   <li>1 GiB hugepages, q35 with UEFI firmware, no memory balloon;</li>
 *   <li>PCIe: see {@link GuestPciLayout} (expander bus per cell, virtual switches mirroring the host's,
 *       or bare root ports on platforms that need them);</li>
 *   <li>{@code <hostdev mode='subsystem' type='pci' managed='no'>} with {@code <driver name='vfio'/>}: the worker
 *       binds vfio-pci itself (BIND_VFIO) and gives devices back only after {@code fmpm -d} (REBIND_HOST_DRIVER).
 *       With managed='yes' libvirt would rebind the GPUs to nvidia as the domain stops, while the fabric
 *       partition is still active, which is the order DESIGN.md forbids;</li>
 *   <li>large BARs: {@code <maxphysaddr mode='passthrough'/>} so the guest has the host's physical address
 *       width, OVMF's 64-bit MMIO window sized for the GPUs' BARs ({@code -fw_cfg opt/ovmf/X-PciMmio64Mb}),
 *       and with {@code largeBarMode = "x-no-mmap"} QEMU's vfio-pci {@code x-no-mmap} property on every GPU
 *       (through {@code <qemu:override>}, which needs the user alias each GPU hostdev gets);</li>
 *   <li>a virtio boot disk when {@code bootImage} is set, a virtio NIC on the management network, a serial console.</li>
 * </ul>
 * Written with the JDK's StAX writer (through {@link XmlNode}), so every name and value is escaped by the XML
 * library and attributes keep libvirt's customary order.
 */
public final class DomainXmlBuilder {

    public static final String QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0";
    public static final String LARGE_BAR_DEFAULT = "default";
    public static final String LARGE_BAR_NO_MMAP = "x-no-mmap";

    /** What was rendered: the XML and where each device sits in the guest. */
    public record RenderedDomain(String xml, GuestPciLayout layout) {
    }

    private final GuestCatalog catalog;
    private final String managementNetwork;

    /**
     * @param managementNetwork libvirt network of the management NIC ("default"), or null for none
     */
    public DomainXmlBuilder(GuestCatalog catalog, String managementNetwork) {
        this.catalog = catalog;
        this.managementNetwork = managementNetwork;
    }

    public DomainXmlBuilder() {
        this(GuestCatalog.builtin(), "default");
    }

    /** Whether rendered domains get a management NIC (whose MAC the seed's network-config matches). */
    public boolean hasManagementNic() {
        return managementNetwork != null;
    }

    /** The domain as the spec describes it, booting the spec's image path itself and without a seed. */
    public RenderedDomain render(DomainSpec spec) throws InvalidDomainSpecException {
        return render(spec, null);
    }

    /**
     * The domain booting from {@code media}: the VM's own overlay instead of the shared image, and its
     * cloud-init seed as a read-only CD-ROM (null: as {@link #render(DomainSpec)}).
     */
    public RenderedDomain render(DomainSpec spec, GuestMedia media) throws InvalidDomainSpecException {
        check(spec);
        GuestPciLayout layout = GuestPciLayout.plan(spec, catalog.guestPcie(spec.platform()));
        XmlNode domain = XmlNode.root("domain").attr("type", "kvm");

        text(domain, "name", spec.name());
        text(domain, "uuid", spec.vmId().toString());
        text(domain, "memory", Long.toString(spec.memoryMiB())).attr("unit", "MiB");
        XmlNode backing = child(domain, "memoryBacking");
        XmlNode page = child(child(backing, "hugepages"), "page");
        page.attr("size", "1");
        page.attr("unit", "G");
        text(domain, "vcpu", Integer.toString(spec.vcpus().size())).attr("placement", "static");
        cputune(domain, spec);
        numatune(domain, spec);
        os(domain);
        XmlNode features = child(domain, "features");
        child(features, "acpi");
        child(features, "apic");
        cpu(domain, spec);
        text(domain, "on_poweroff", "destroy");
        text(domain, "on_reboot", "restart");
        text(domain, "on_crash", "destroy");
        XmlNode devices = child(domain, "devices");
        disk(devices, spec, media);
        seed(devices, media);
        for (Controller c : layout.controllers()) {
            controller(devices, c);
        }
        List<String> noMmapAliases = new ArrayList<>();
        for (GuestDevice d : layout.devices()) {
            String alias = hostdev(devices, d);
            if (LARGE_BAR_NO_MMAP.equals(spec.largeBarMode()) && isGpu(d)) {
                noMmapAliases.add(alias);
            }
        }
        if (managementNetwork != null) {
            XmlNode nic = child(devices, "interface");
            nic.attr("type", "network");
            // fixed by the VM's id: the same on every define, and what the seed's network-config matches
            child(nic, "mac").attr("address", CloudInitSeed.macOf(spec.vmId()));
            child(nic, "source").attr("network", managementNetwork);
            child(nic, "model").attr("type", "virtio");
        }
        XmlNode serial = child(devices, "serial");
        serial.attr("type", "pty");
        child(serial, "target").attr("port", "0");
        XmlNode console = child(devices, "console");
        console.attr("type", "pty");
        XmlNode consoleTarget = child(console, "target");
        consoleTarget.attr("type", "serial");
        consoleTarget.attr("port", "0");
        child(devices, "memballoon").attr("model", "none");
        qemuExtensions(domain, layout, noMmapAliases);
        return new RenderedDomain(domain.render(Map.of("qemu", QEMU_NS)), layout);
    }

    /** MiB of 64-bit MMIO window OVMF should open for these GPUs; 0 when none of them is in the catalog. */
    long mmio64MiB(GuestPciLayout layout) {
        long barsGiB = layout.devices().stream().filter(DomainXmlBuilder::isGpu)
                .mapToLong(d -> catalog.gpu(d.host().gpuModel()).map(GuestCatalog.GpuFacts::largestBarGiB).orElse(0L))
                .sum();
        if (barsGiB == 0) {
            return 0;
        }
        // BARs are naturally aligned and bridge windows round up: twice the next power of two leaves room
        // for alignment and the GPUs' smaller 64-bit BARs.
        long window = Long.highestOneBit(barsGiB);
        if (window < barsGiB) {
            window <<= 1;
        }
        return window * 2 * 1024;
    }

    // ---- sections -----------------------------------------------------------------------------------------

    private static void check(DomainSpec spec) throws InvalidDomainSpecException {
        if (spec.vmId() == null || spec.name() == null || spec.name().isBlank()) {
            throw new InvalidDomainSpecException("the domain needs a vmId and a name");
        }
        if (spec.vcpus().isEmpty()) {
            throw new InvalidDomainSpecException("the domain has no vCPU");
        }
        if (spec.cells().isEmpty()) {
            throw new InvalidDomainSpecException("the domain has no NUMA cell");
        }
        Set<Integer> hostNodes = spec.cells().stream().map(DomainSpec.NumaCell::hostNode).collect(Collectors.toSet());
        Set<Integer> seenVcpus = new HashSet<>();
        for (VcpuPin p : spec.vcpus()) {
            if (!hostNodes.contains(p.hostNode())) {
                throw new InvalidDomainSpecException("vCPU " + p.vcpu() + " is pinned to host CPU " + p.hostCpu()
                        + " on node " + p.hostNode() + ", which no guest NUMA cell mirrors");
            }
            if (!seenVcpus.add(p.vcpu())) {
                throw new InvalidDomainSpecException("vCPU " + p.vcpu() + " is pinned twice");
            }
        }
        long cellMemory = 0;
        for (DomainSpec.NumaCell c : spec.cells()) {
            if (c.memoryMiB() <= 0 || c.memoryMiB() % 1024 != 0) {
                throw new InvalidDomainSpecException("guest NUMA cell " + c.guestCell() + " has " + c.memoryMiB()
                        + " MiB; with 1 GiB hugepages it must be a positive multiple of 1024");
            }
            cellMemory += c.memoryMiB();
        }
        if (cellMemory != spec.memoryMiB()) {
            throw new InvalidDomainSpecException("the NUMA cells hold " + cellMemory + " MiB but the domain has "
                    + spec.memoryMiB() + " MiB");
        }
        String mode = spec.largeBarMode();
        if (mode != null && !mode.equals(LARGE_BAR_DEFAULT) && !mode.equals(LARGE_BAR_NO_MMAP)) {
            throw new InvalidDomainSpecException("unknown largeBarMode '" + mode + "'");
        }
    }

    private static void cputune(XmlNode domain, DomainSpec spec) {
        XmlNode cputune = child(domain, "cputune");
        List<VcpuPin> pins = spec.vcpus().stream().sorted(Comparator.comparingInt(VcpuPin::vcpu)).toList();
        for (VcpuPin p : pins) {
            XmlNode pin = child(cputune, "vcpupin");
            pin.attr("vcpu", Integer.toString(p.vcpu()));
            pin.attr("cpuset", Integer.toString(p.hostCpu()));
        }
        child(cputune, "emulatorpin").attr("cpuset",
                CpuList.format(pins.stream().map(VcpuPin::hostCpu).sorted().distinct().toList()));
    }

    private static void numatune(XmlNode domain, DomainSpec spec) {
        XmlNode numatune = child(domain, "numatune");
        XmlNode memory = child(numatune, "memory");
        memory.attr("mode", "strict");
        memory.attr("nodeset", CpuList.format(
                spec.cells().stream().map(DomainSpec.NumaCell::hostNode).sorted().distinct().toList()));
        for (DomainSpec.NumaCell c : cells(spec)) {
            XmlNode memnode = child(numatune, "memnode");
            memnode.attr("cellid", Integer.toString(c.guestCell()));
            memnode.attr("mode", "strict");
            memnode.attr("nodeset", Integer.toString(c.hostNode()));
        }
    }

    private static void os(XmlNode domain) {
        XmlNode os = child(domain, "os");
        os.attr("firmware", "efi");
        XmlNode type = text(os, "type", "hvm");
        type.attr("arch", "x86_64");
        type.attr("machine", "q35");
    }

    private static void cpu(XmlNode domain, DomainSpec spec) {
        XmlNode cpu = child(domain, "cpu");
        cpu.attr("mode", "host-passthrough");
        cpu.attr("check", "none");
        cpu.attr("migratable", "off");
        int[] t = topology(spec.vcpus());
        XmlNode topology = child(cpu, "topology");
        topology.attr("sockets", Integer.toString(t[0]));
        topology.attr("dies", "1");
        topology.attr("cores", Integer.toString(t[1]));
        topology.attr("threads", Integer.toString(t[2]));
        child(cpu, "maxphysaddr").attr("mode", "passthrough");
        XmlNode numa = child(cpu, "numa");
        for (DomainSpec.NumaCell c : cells(spec)) {
            XmlNode cell = child(numa, "cell");
            cell.attr("id", Integer.toString(c.guestCell()));
            List<Integer> cellCpus = spec.vcpus().stream().filter(p -> p.hostNode() == c.hostNode())
                    .map(VcpuPin::vcpu).sorted().toList();
            if (!cellCpus.isEmpty()) {
                cell.attr("cpus", CpuList.format(cellCpus));
            }
            cell.attr("memory", Long.toString(c.memoryMiB()));
            cell.attr("unit", "MiB");
        }
    }

    /**
     * sockets × cores × threads must equal the vCPU count: sockets = host sockets used, threads = 2 when
     * every pinned core has both hyperthreads in the VM; whatever does not divide evenly falls back to 1.
     */
    static int[] topology(List<VcpuPin> vcpus) {
        int n = vcpus.size();
        int sockets = (int) vcpus.stream().map(VcpuPin::hostSocket).distinct().count();
        Map<String, Integer> perCore = new HashMap<>();
        vcpus.forEach(p -> perCore.merge(p.hostSocket() + "/" + p.hostCore(), 1, Integer::sum));
        Set<Integer> threadCounts = new TreeSet<>(perCore.values());
        int threads = threadCounts.size() == 1 ? threadCounts.iterator().next() : 1;
        if (n % sockets != 0) {
            sockets = 1;
        }
        if ((n / sockets) % threads != 0) {
            threads = 1;
        }
        return new int[] {sockets, n / sockets / threads, threads};
    }

    private static void disk(XmlNode devices, DomainSpec spec, GuestMedia media) {
        if (spec.bootImage() == null || spec.bootImage().isBlank()) {
            return;
        }
        String file = media != null && media.bootDisk() != null ? media.bootDisk().toString() : spec.bootImage();
        XmlNode disk = child(devices, "disk");
        disk.attr("type", "file");
        disk.attr("device", "disk");
        XmlNode driver = child(disk, "driver");
        driver.attr("name", "qemu");
        driver.attr("type", GuestImages.format(java.nio.file.Path.of(file)));
        driver.attr("cache", "none");
        driver.attr("io", "native");
        child(disk, "source").attr("file", file);
        XmlNode target = child(disk, "target");
        target.attr("dev", "vda");
        target.attr("bus", "virtio");
        child(disk, "boot").attr("order", "1");
    }

    /** The NoCloud seed: a read-only CD-ROM on the q35 chipset's own SATA controller. */
    private static void seed(XmlNode devices, GuestMedia media) {
        if (media == null || media.seed() == null) {
            return;
        }
        XmlNode cdrom = child(devices, "disk");
        cdrom.attr("type", "file");
        cdrom.attr("device", "cdrom");
        XmlNode driver = child(cdrom, "driver");
        driver.attr("name", "qemu");
        driver.attr("type", "raw");
        child(cdrom, "source").attr("file", media.seed().toString());
        XmlNode target = child(cdrom, "target");
        target.attr("dev", "sda");
        target.attr("bus", "sata");
        child(cdrom, "readonly");
    }

    private static void controller(XmlNode devices, Controller c) {
        XmlNode e = child(devices, "controller");
        e.attr("type", "pci");
        e.attr("index", Integer.toString(c.index()));
        e.attr("model", c.model());
        if (c.busNr() != null) {
            XmlNode target = child(e, "target");
            target.attr("busNr", Integer.toString(c.busNr()));
            text(target, "node", Integer.toString(c.numaNode()));
        }
        if (c.parentIndex() != null) {
            address(e, c.parentIndex(), c.slot(), c.function(), c.multifunction());
        }
    }

    /** @return the hostdev's user alias */
    private static String hostdev(XmlNode devices, GuestDevice d) {
        XmlNode hostdev = child(devices, "hostdev");
        hostdev.attr("mode", "subsystem");
        hostdev.attr("type", "pci");
        hostdev.attr("managed", "no"); // see the class comment: the worker owns driver binding and its order
        child(hostdev, "driver").attr("name", "vfio");
        String bdf = Bdf.normalize(d.host().bdf());
        String[] parts = bdf.split("[:.]");
        XmlNode source = child(child(hostdev, "source"), "address");
        source.attr("domain", "0x" + parts[0]);
        source.attr("bus", "0x" + parts[1]);
        source.attr("slot", "0x" + parts[2]);
        source.attr("function", "0x" + parts[3]);
        // "ua-" marks a user alias: libvirt keeps it, and <qemu:override> can name the device by it
        String alias = "ua-hostdev-" + bdf.replace(':', '-').replace('.', '-');
        child(hostdev, "alias").attr("name", alias);
        address(hostdev, d.parentIndex(), d.slot(), d.function(), d.multifunction());
        return alias;
    }

    private void qemuExtensions(XmlNode domain, GuestPciLayout layout, List<String> noMmapAliases) {
        long mmio = mmio64MiB(layout);
        if (mmio > 0) {
            XmlNode commandline = domain.child(QEMU_NS, "qemu", "commandline");
            commandline.child(QEMU_NS, "qemu", "arg").attr("value", "-fw_cfg");
            commandline.child(QEMU_NS, "qemu", "arg").attr("value", "name=opt/ovmf/X-PciMmio64Mb,string=" + mmio);
        }
        if (!noMmapAliases.isEmpty()) {
            XmlNode override = domain.child(QEMU_NS, "qemu", "override");
            for (String alias : noMmapAliases) {
                override.child(QEMU_NS, "qemu", "device").attr("alias", alias)
                        .child(QEMU_NS, "qemu", "frontend")
                        .child(QEMU_NS, "qemu", "property")
                        .attr("name", "x-no-mmap").attr("type", "bool").attr("value", "true");
            }
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    public static boolean isGpu(GuestDevice d) {
        return "gpu".equalsIgnoreCase(d.host().kind());
    }

    private static List<DomainSpec.NumaCell> cells(DomainSpec spec) {
        return spec.cells().stream().sorted(Comparator.comparingInt(DomainSpec.NumaCell::guestCell)).toList();
    }

    private static void address(XmlNode parent, int bus, int slot, int function, boolean multifunction) {
        XmlNode a = child(parent, "address");
        a.attr("type", "pci");
        a.attr("domain", "0x0000");
        a.attr("bus", String.format(Locale.ROOT, "0x%02x", bus));
        a.attr("slot", String.format(Locale.ROOT, "0x%02x", slot));
        a.attr("function", "0x" + function);
        if (multifunction) {
            a.attr("multifunction", "on");
        }
    }

    static XmlNode child(XmlNode parent, String name) {
        return parent.child(name);
    }

    static XmlNode text(XmlNode parent, String name, String value) {
        return parent.text(name, value);
    }
}
