package io.gpucloud.worker.libvirt;

import io.gpucloud.protocol.job.DomainSpec;
import io.gpucloud.protocol.job.DomainSpec.HostDevice;
import io.gpucloud.worker.libvirt.GuestCatalog.GuestPcie;
import io.gpucloud.worker.pci.Bdf;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Where every passed-through function sits in the guest, decided once and used by both the domain XML
 * and the NCCL topology file, so the two can never disagree.
 *
 * <p>Per guest NUMA cell one {@code pcie-expander-bus} (bus number {@code 0x20 × (position + 1)}, as in
 * NVIDIA's guide) with root ports on it. In {@link GuestPcie#SWITCHES} mode each host PCIe switch becomes a
 * root port with a virtual switch under it ({@code pcie-switch-upstream-port} plus one
 * {@code pcie-switch-downstream-port} per host slot), so a GPU and the ConnectX-7 beside it are peers
 * again; devices not behind a switch get a root port of their own. In {@link GuestPcie#ROOT_PORTS} mode
 * (B200) every host slot gets its own root port. Functions of one host slot (a GPU and its audio function)
 * stay together as one multi-function guest slot.
 *
 * <p>Guest bus numbers are the ones firmware assigns: depth first below each expander bus, starting at
 * its bus number + 1, in slot/function order — the order the controllers are listed here.
 */
public record GuestPciLayout(List<Controller> controllers, List<GuestDevice> devices, List<GuestSwitch> switches) {

    /** Bus numbers one guest NUMA cell may use below its expander bus. */
    static final int BUSES_PER_CELL = 0x20;

    public GuestPciLayout {
        controllers = List.copyOf(controllers);
        devices = List.copyOf(devices);
        switches = List.copyOf(switches);
    }

    /**
     * A libvirt PCI controller.
     *
     * @param parentIndex index of the controller it plugs into; null for the root and the expander buses
     *                    (libvirt places those on the root bus itself)
     * @param busNr       expander buses only: the guest bus number of their root bus
     * @param numaNode    expander buses only: the guest NUMA cell
     * @param guestBdf    where the port itself appears in the guest; null for root and expander buses
     */
    public record Controller(int index, String model, Integer parentIndex, int slot, int function,
                             boolean multifunction, Integer busNr, Integer numaNode, String guestBdf) {
    }

    /**
     * A passed-through function.
     *
     * @param parentIndex    controller (root or downstream port) it plugs into
     * @param guestBdf       its address inside the guest
     * @param guestSwitchBdf upstream port of the virtual switch above it, null behind a bare root port
     */
    public record GuestDevice(HostDevice host, int guestCell, int parentIndex, int slot, int function,
                              boolean multifunction, String guestBdf, String guestSwitchBdf) {
    }

    /** A virtual switch mirroring host switch {@code hostSwitchBdf}. */
    public record GuestSwitch(String hostSwitchBdf, int guestCell, String guestBdf, List<String> memberGuestBdfs) {
        public GuestSwitch {
            memberGuestBdfs = List.copyOf(memberGuestBdfs);
        }
    }

    public Optional<GuestDevice> device(String hostBdf) {
        return devices.stream().filter(d -> d.host().bdf().equals(hostBdf)).findFirst();
    }

    /** Host BDF → guest BDF, in host order. */
    public Map<String, String> guestBdfs() {
        Map<String, String> m = new TreeMap<>();
        devices.forEach(d -> m.put(d.host().bdf(), d.guestBdf()));
        return m;
    }

    // ---- planning ---------------------------------------------------------------------------------------

    public static GuestPciLayout plan(DomainSpec spec, GuestPcie mode) throws InvalidDomainSpecException {
        List<DomainSpec.NumaCell> cells = spec.cells().stream()
                .sorted(Comparator.comparingInt(DomainSpec.NumaCell::guestCell)).toList();
        if (cells.isEmpty()) {
            throw new InvalidDomainSpecException("the domain has no NUMA cell");
        }
        if (cells.size() * BUSES_PER_CELL > 0xff) {
            throw new InvalidDomainSpecException(cells.size() + " guest NUMA cells leave too few PCI bus numbers");
        }
        List<Controller> controllers = new ArrayList<>();
        controllers.add(new Controller(0, "pcie-root", null, 0, 0, false, null, null, null));
        int[] next = {1};
        Map<Integer, Controller> expanders = new LinkedHashMap<>();
        for (int k = 0; k < cells.size(); k++) {
            Controller pxb = new Controller(next[0]++, "pcie-expander-bus", null, 0, 0, false,
                    BUSES_PER_CELL * (k + 1), cells.get(k).guestCell(), null);
            controllers.add(pxb);
            expanders.put(cells.get(k).guestCell(), pxb);
        }
        List<GuestDevice> placed = new ArrayList<>();
        List<GuestSwitch> switches = new ArrayList<>();
        for (DomainSpec.NumaCell cell : cells) {
            Controller pxb = expanders.get(cell.guestCell());
            List<List<List<HostDevice>>> units = units(spec, cell, cells, mode);
            int bus = pxb.busNr();
            for (int u = 0; u < units.size(); u++) {
                List<List<HostDevice>> unit = units.get(u);
                int slot = u / 8;
                int function = u % 8;
                boolean sharesSlot = units.size() > slot * 8 + 1;
                Controller port = new Controller(next[0]++, "pcie-root-port", pxb.index(), slot, function,
                        function == 0 && sharesSlot, null, null, bdf(pxb.busNr(), slot, function));
                controllers.add(port);
                int portBus = ++bus;
                String switchBdf = unit.get(0).get(0).switchBdf();
                if (mode == GuestPcie.SWITCHES && switchBdf != null) {
                    Controller up = new Controller(next[0]++, "pcie-switch-upstream-port", port.index(), 0, 0, false,
                            null, null, bdf(portBus, 0, 0));
                    controllers.add(up);
                    int upBus = ++bus;
                    List<String> members = new ArrayList<>();
                    for (int s = 0; s < unit.size(); s++) {
                        Controller down = new Controller(next[0]++, "pcie-switch-downstream-port", up.index(), s, 0,
                                false, null, null, bdf(upBus, s, 0));
                        controllers.add(down);
                        int downBus = ++bus;
                        for (GuestDevice d : place(unit.get(s), cell.guestCell(), down.index(), downBus, up.guestBdf())) {
                            placed.add(d);
                            members.add(d.guestBdf());
                        }
                    }
                    switches.add(new GuestSwitch(switchBdf, cell.guestCell(), up.guestBdf(), members));
                } else {
                    placed.addAll(place(unit.get(0), cell.guestCell(), port.index(), portBus, null));
                }
            }
            if (bus - pxb.busNr() >= BUSES_PER_CELL) {
                throw new InvalidDomainSpecException("guest NUMA cell " + cell.guestCell() + " needs "
                        + (bus - pxb.busNr()) + " PCI buses, more than the " + (BUSES_PER_CELL - 1) + " it has");
            }
        }
        return new GuestPciLayout(controllers, placed, switches);
    }

    /**
     * The devices of one cell as root-port units, in host order: each unit is a list of host slots, each
     * slot a list of functions. A switch unit holds every slot behind that host switch.
     */
    private static List<List<List<HostDevice>>> units(DomainSpec spec, DomainSpec.NumaCell cell,
                                                      List<DomainSpec.NumaCell> cells, GuestPcie mode)
            throws InvalidDomainSpecException {
        Map<String, List<HostDevice>> slots = new TreeMap<>();
        for (HostDevice d : spec.devices()) {
            if (Bdf.parse(d.bdf()).isEmpty()) {
                throw new InvalidDomainSpecException("not a PCI address: " + d.bdf());
            }
            if (cellOf(d, cells) != cell.guestCell()) {
                continue;
            }
            String bdf = Bdf.normalize(d.bdf());
            slots.computeIfAbsent(bdf.substring(0, bdf.lastIndexOf('.')), k -> new ArrayList<>()).add(d);
        }
        Map<String, List<List<HostDevice>>> byUnit = new TreeMap<>();
        for (Map.Entry<String, List<HostDevice>> slot : slots.entrySet()) {
            List<HostDevice> functions = slot.getValue();
            functions.sort(Comparator.comparing(d -> Bdf.normalize(d.bdf())));
            String switchBdf = functions.get(0).switchBdf();
            String key = mode == GuestPcie.SWITCHES && switchBdf != null ? "switch " + Bdf.normalize(switchBdf)
                    : "slot " + slot.getKey();
            byUnit.computeIfAbsent(key, k -> new ArrayList<>()).add(functions);
        }
        List<List<List<HostDevice>>> units = new ArrayList<>(byUnit.values());
        units.sort(Comparator.comparing(u -> Bdf.normalize(u.get(0).get(0).bdf())));
        return units;
    }

    /** The guest cell whose host node the device sits on; the first cell when its node is unknown or not used. */
    static int cellOf(HostDevice d, List<DomainSpec.NumaCell> cells) {
        if (d.hostNode() != null) {
            for (DomainSpec.NumaCell c : cells) {
                if (c.hostNode() == d.hostNode()) {
                    return c.guestCell();
                }
            }
        }
        return cells.get(0).guestCell();
    }

    private static List<GuestDevice> place(List<HostDevice> functions, int cell, int parentIndex, int bus,
                                           String switchBdf) {
        List<GuestDevice> out = new ArrayList<>();
        for (int f = 0; f < functions.size(); f++) {
            out.add(new GuestDevice(functions.get(f), cell, parentIndex, 0, f, f == 0 && functions.size() > 1,
                    bdf(bus, 0, f), switchBdf));
        }
        return out;
    }

    static String bdf(int bus, int slot, int function) {
        return String.format(Locale.ROOT, "0000:%02x:%02x.%d", bus, slot, function);
    }
}
