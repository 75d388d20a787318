package io.gpucloud.placement;

import java.util.List;
import java.util.Map;

/**
 * Either ranked placements (best first; the claim walks them when it loses a race) or, when none
 * fits, the reasons in numbers.
 *
 * @param candidates  feasible placements, best first, at most one per host
 * @param rejections  per filter name, how many hosts it rejected (in filter order)
 * @param explanation a sentence such as "12 hosts H100 ready; 9 lack a free 4-GPU partition; 3 lack 64 NUMA-local CPUs"
 */
public record PlacementDecision(List<Placement> candidates, Map<String, Integer> rejections, String explanation) {
    public PlacementDecision {
        candidates = List.copyOf(candidates);
        // keep filter order (Map.copyOf would scramble it); still unmodifiable and null-free
        for (Map.Entry<String, Integer> e : rejections.entrySet()) {
            java.util.Objects.requireNonNull(e.getKey());
            java.util.Objects.requireNonNull(e.getValue());
        }
        rejections = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(rejections));
    }

    public boolean placed() {
        return !candidates.isEmpty();
    }
}
