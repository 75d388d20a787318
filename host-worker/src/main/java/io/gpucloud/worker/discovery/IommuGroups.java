package io.gpucloud.worker.discovery;

import io.gpucloud.worker.pci.Bdf;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * {@code /sys/kernel/iommu_groups/N/devices/*}: which functions the IOMMU can only isolate together.
 * The directory exists but is empty when the IOMMU is off.
 */
final class IommuGroups {

    private final Map<String, Integer> groupOf;
    private final Map<Integer, List<String>> members;

    private IommuGroups(Map<String, Integer> groupOf, Map<Integer, List<String>> members) {
        this.groupOf = groupOf;
        this.members = members;
    }

    static IommuGroups read(SysfsFiles fs) {
        Path base = fs.path("sys/kernel/iommu_groups");
        Map<String, Integer> groupOf = new HashMap<>();
        Map<Integer, List<String>> members = new TreeMap<>();
        for (String name : fs.list(base)) {
            int group;
            try {
                group = Integer.parseInt(name);
            } catch (NumberFormatException e) {
                continue;
            }
            List<String> bdfs = new ArrayList<>();
            for (String entry : fs.list(base.resolve(name).resolve("devices"))) {
                Bdf.parse(entry).ifPresent(bdf -> {
                    bdfs.add(bdf);
                    groupOf.put(bdf, group);
                });
            }
            bdfs.sort(null);
            members.put(group, bdfs);
        }
        return new IommuGroups(groupOf, members);
    }

    boolean isEmpty() {
        return groupOf.isEmpty();
    }

    Optional<Integer> groupOf(String bdf) {
        return Optional.ofNullable(groupOf.get(bdf));
    }

    List<String> members(int group) {
        return members.getOrDefault(group, List.of());
    }
}
