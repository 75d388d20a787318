package io.gpucloud.worker.catalog;

import io.gpucloud.protocol.Platform;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Recognizes the board from the GPUs and NVSwitches found on the PCI bus and holds the built-in
 * fabric partition tables ({@code catalog/platforms.json}, {@code catalog/fabric-partitions.json}).
 */
public final class PlatformCatalog {

    record RulesJson(List<PlatformRule> rules) {
    }

    record TablesJson(List<PartitionTable> tables) {
    }

    private static volatile PlatformCatalog builtin;

    private final List<PlatformRule> rules;
    private final Map<String, PartitionTable> tables;

    private PlatformCatalog(List<PlatformRule> rules, List<PartitionTable> tables) {
        this.rules = List.copyOf(rules);
        this.tables = tables.stream().collect(Collectors.toUnmodifiableMap(PartitionTable::name, Function.identity()));
        for (PlatformRule r : rules) {
            if (!this.tables.containsKey(r.partitionTable())) {
                throw new IllegalArgumentException("platform rule " + r.platform() + " names unknown partition table "
                        + r.partitionTable());
            }
        }
    }

    public static PlatformCatalog builtin() {
        PlatformCatalog c = builtin;
        if (c == null) {
            c = load(CatalogJson.resource("platforms.json"), CatalogJson.resource("fabric-partitions.json"));
            builtin = c;
        }
        return c;
    }

    public static PlatformCatalog load(InputStream platformsJson, InputStream partitionsJson) {
        return new PlatformCatalog(CatalogJson.read(platformsJson, RulesJson.class).rules(),
                CatalogJson.read(partitionsJson, TablesJson.class).tables());
    }

    /**
     * The first rule the host satisfies.
     *
     * @param gpuModel        the (single) model of the host's GPUs
     * @param gpuCount        GPUs present
     * @param nvswitchModels  NVSwitch model → count present
     */
    public Optional<PlatformRule> match(String gpuModel, int gpuCount, Map<String, Integer> nvswitchModels) {
        return rules.stream()
                .filter(r -> r.gpuModels().contains(gpuModel))
                .filter(r -> gpuCount >= r.minGpus() && gpuCount <= r.boardGpus())
                .filter(r -> r.nvswitchModels().stream().mapToInt(m -> nvswitchModels.getOrDefault(m, 0)).sum()
                        >= r.minNvswitches())
                .findFirst();
    }

    /** Whether some HGX platform is built from this GPU model (so failing every rule is suspicious). */
    public boolean isBoardGpu(String gpuModel) {
        return rules.stream().anyMatch(r -> r.gpuModels().contains(gpuModel));
    }

    public PartitionTable table(String name) {
        PartitionTable t = tables.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no partition table " + name);
        }
        return t;
    }

    /** The partition table of a platform as a healthy board would have it. */
    public Optional<PartitionTable> tableFor(Platform platform, java.util.Set<Integer> presentModules) {
        return rules.stream().filter(r -> r.platform() == platform).findFirst().map(r -> {
            PartitionTable t = table(r.partitionTable());
            return r.singleBoardOfTable() ? t.singleBoard(r.boardGpus(), presentModules) : t;
        });
    }
}
