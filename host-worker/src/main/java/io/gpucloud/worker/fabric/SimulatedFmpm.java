package io.gpucloud.worker.fabric;

import io.gpucloud.worker.catalog.PartitionSpec;
import io.gpucloud.worker.catalog.PartitionTable;
import io.gpucloud.worker.command.CommandResult;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * fmpm talking to a simulated Fabric Manager in Shared-NVSwitch mode. Output, messages and exit codes
 * follow fmpm 1.0.1's source: results go to stdout ({@code std::cout}), argument errors to stderr, and
 * the exit status is the negative fmReturn_t modulo 256.
 *
 * <p>Partition rules, as Fabric Manager enforces them:
 * <ul>
 *   <li>the supported list is the board's table minus every partition holding a missing GPU; the
 *       remaining ids keep their numbers;</li>
 *   <li>{@code -a} of an active partition: exit 239 (FM_ST_PARTITION_ID_IN_USE, -17);</li>
 *   <li>{@code -a} while an overlapping partition is active: exit 249 (FM_ST_IN_USE, -7). NVIDIA's
 *       header documents FM_ST_IN_USE for refused activations; which code a given FM release returns
 *       for overlap is not published, so clients should re-list rather than trust the number;</li>
 *   <li>{@code -d} of an inactive partition: exit 238 (FM_ST_PARTITION_ID_NOT_IN_USE, -18);</li>
 *   <li>an id Fabric Manager does not list: exit 255 (FM_ST_BADPARAM, -1); {@code -a} with an id of
 *       64 or more is refused by fmpm itself with "Invalid Partition ID.".</li>
 * </ul>
 * A stopped Fabric Manager answers every command with "Failed to connect to Fabric Manager
 * instance." (FM_ST_CONNECTION_NOT_VALID); an uninstalled fmpm with exit 127, as the shell would.
 * A restart forgets which partitions were active, like a host reboot does.
 */
public final class SimulatedFmpm implements Fmpm {

    /** fmFabricPartitionList_version: sizeof(fmFabricPartitionList_v2) | (1 << 24). */
    static final long LIST_VERSION = 131852L | (1L << 24);
    private static final int MAX_FABRIC_PARTITIONS = 64;

    /**
     * A GPU as Fabric Manager reports it.
     *
     * @param pciBusId eight-digit-domain address on A100; empty on H100 and later, where FM leaves it blank
     */
    public record FmGpu(int physicalId, String uuid, String pciBusId) {
    }

    private final PartitionTable table;
    private final Map<Integer, PartitionSpec> supported = new LinkedHashMap<>();
    private final Map<Integer, FmGpu> gpus;
    private final Set<Integer> active = new TreeSet<>();
    private boolean installed = true;
    private boolean running = true;

    /**
     * @param table the board's full partition table
     * @param gpus  GPUs present, by physical id; partitions using any other id are not supported
     */
    public SimulatedFmpm(PartitionTable table, Map<Integer, FmGpu> gpus) {
        this.table = table;
        this.gpus = Map.copyOf(gpus);
        for (PartitionSpec p : table.partitions()) {
            if (gpus.keySet().containsAll(p.modules())) {
                supported.put(p.id(), p);
            }
        }
    }

    /** Pretend fmpm is not installed (commands exit 127). */
    public synchronized SimulatedFmpm uninstalled() {
        installed = false;
        return this;
    }

    /** Stop or start the Fabric Manager daemon; a start is a restart and forgets active partitions. */
    public synchronized void setRunning(boolean run) {
        if (run && !running) {
            active.clear();
        }
        running = run;
    }

    public synchronized Set<Integer> activePartitions() {
        return Collections.unmodifiableSet(new TreeSet<>(active));
    }

    @Override
    public synchronized CommandResult run(String... args) {
        if (!installed) {
            return new CommandResult(CommandResult.NOT_FOUND, "",
                    "Cannot run program \"fmpm\": error=2, No such file or directory");
        }
        if (args.length == 0 || (args.length == 1 && args[0].equals("-h"))) {
            return new CommandResult(0, HELP, "");
        }
        String operation = null;
        long partition = 0;
        String list = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "-l" -> operation = "-l";
                case "-a", "-d" -> {
                    operation = args[i];
                    if (i + 1 >= args.length) {
                        return new CommandResult(operation.equals("-a") ? 1 : 255, "",
                                "Error: " + operation + " option requires partition ID.\n");
                    }
                    Long id = stoul(args[++i]);
                    if (id == null) {
                        return new CommandResult(134, "", "terminate called after throwing an instance of "
                                + "'std::invalid_argument'\n  what():  stoul\n");
                    }
                    partition = id;
                    if (operation.equals("-a") && partition >= MAX_FABRIC_PARTITIONS) {
                        return fail("Invalid Partition ID.\n", FmReturn.BADPARAM);
                    }
                }
                case "--set-activated-list" -> {
                    operation = "--set-activated-list";
                    if (i + 1 >= args.length) {
                        return new CommandResult(1, "",
                                "Error: --set-activated-list option requires list of partition IDs.\n");
                    }
                    list = args[++i];
                }
                case "--hostname", "--unix-domain-socket" -> {
                    if (i + 1 >= args.length) {
                        return new CommandResult(1, "", "Error: " + args[i] + " option requires user specified "
                                + (args[i].equals("--hostname") ? "IP or hostname" : "socket value") + ".\n");
                    }
                    i++; // the simulated Fabric Manager answers on any address
                }
                case "-v" -> {
                    return new CommandResult(0, "1.0.1\n", "");
                }
                case "--get-nvlink-failed-devices", "--list-unsupported-partitions" ->
                        throw new UnsupportedOperationException("the fmpm simulator does not emulate " + args[i]);
                default -> {
                    return new CommandResult(FmReturn.exitStatus(FmReturn.BADPARAM), "", "Invalid argument.\n\n");
                }
            }
        }
        if (!running) {
            return fail("Failed to connect to Fabric Manager instance.\n", FmReturn.CONNECTION_NOT_VALID);
        }
        if (operation == null) {
            return new CommandResult(0, "", "");
        }
        return switch (operation) {
            case "-l" -> new CommandResult(0, listJson(), "");
            case "-a" -> activate((int) partition);
            case "-d" -> deactivate((int) partition);
            default -> setActivatedList(list);
        };
    }

    private CommandResult activate(int id) {
        PartitionSpec p = supported.get(id);
        if (p == null) {
            return failed("activate partition", FmReturn.BADPARAM);
        }
        if (active.contains(id)) {
            return failed("activate partition", FmReturn.PARTITION_ID_IN_USE);
        }
        for (int other : active) {
            if (overlaps(p, supported.get(other))) {
                return failed("activate partition", FmReturn.IN_USE);
            }
        }
        active.add(id);
        return new CommandResult(0, "", "");
    }

    private CommandResult deactivate(int id) {
        if (!supported.containsKey(id)) {
            return failed("deactivate partition", FmReturn.BADPARAM);
        }
        if (!active.remove(id)) {
            return failed("deactivate partition", FmReturn.PARTITION_ID_NOT_IN_USE);
        }
        return new CommandResult(0, "", "");
    }

    private CommandResult setActivatedList(String list) {
        Set<Integer> ids = new TreeSet<>();
        for (String token : list.split(",")) {
            Long id = stoul(token);
            if (id == null || id >= MAX_FABRIC_PARTITIONS) {
                return fail("Invalid partition Id " + token + " was given.\n", FmReturn.BADPARAM);
            }
            ids.add(id.intValue());
        }
        for (int id : ids) {
            if (!supported.containsKey(id)) {
                return failed("set activated partitions", FmReturn.BADPARAM);
            }
        }
        active.clear();
        active.addAll(ids);
        return new CommandResult(0, "", "");
    }

    private String listJson() {
        List<Object> infos = new ArrayList<>();
        for (PartitionSpec p : supported.values()) {
            List<Object> gpuInfo = new ArrayList<>();
            boolean linked = p.gpuCount() > 1;
            for (int module : p.modules()) {
                FmGpu g = gpus.get(module);
                gpuInfo.add(Map.of(
                        "physicalId", module,
                        "uuid", g.uuid(),
                        "pciBusId", g.pciBusId(),
                        "numNvLinksAvailable", linked ? table.maxNvLinksPerGpu() : 0,
                        "maxNumNvLinks", table.maxNvLinksPerGpu(),
                        "nvlinkLineRateMBps", table.nvlinkLineRateMBps()));
            }
            infos.add(Map.of(
                    "partitionId", p.id(),
                    "isActive", active.contains(p.id()) ? 1 : 0,
                    "numGpus", p.gpuCount(),
                    "gpuInfo", gpuInfo));
        }
        return StyledJson.write(Map.of(
                "version", LIST_VERSION,
                "numPartitions", supported.size(),
                "maxNumPartitions", table.partitions().size(),
                "partitionInfo", infos));
    }

    private static boolean overlaps(PartitionSpec a, PartitionSpec b) {
        return a.modules().stream().anyMatch(b.modules()::contains);
    }

    private static CommandResult failed(String what, int fmReturn) {
        return fail("Failed to " + what + ". fmReturn: " + fmReturn + "\n", fmReturn);
    }

    private static CommandResult fail(String stdout, int fmReturn) {
        return new CommandResult(FmReturn.exitStatus(fmReturn), stdout, "");
    }

    /** std::stoul: leading digits count, no digits throws. */
    private static Long stoul(String s) {
        String t = s.strip();
        int end = 0;
        while (end < t.length() && Character.isDigit(t.charAt(end))) {
            end++;
        }
        if (end == 0) {
            return null;
        }
        try {
            return Long.parseLong(t.substring(0, end));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static final String HELP = """
            -l : List partitions
            -a <Partition ID> : Activate partition
            -d <Partition ID> : Deactivate partition
            --hostname : hostname or IP address (TCP socket) of Fabric Manager.
                 If this option is not specified, the default is 127.0.0.1
            --unix-domain-socket : UNIX domain socket path for Fabric Manager connection
            --get-nvlink-failed-devices : Query all NVLink failed devices
            --list-unsupported-partitions : Query all unsupported fabric partitions
            --set-activated-list <Partition IDs> : Set a list of currently activated fabric partitions.
                 Comma separated, no space! Used for Fabric Manager Resiliency Mode.
            -v : Show version
            """;
}
