package io.gpucloud.worker.discovery;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * The kernel's CPU list format ({@code cpulist}, {@code thread_siblings_list}): comma-separated
 * numbers and inclusive ranges, e.g. "0-3,8,10-11". Interleaved hosts print long lists of single
 * numbers ("0,2,4,...") because the kernel never prints strides.
 */
public final class CpuList {

    private CpuList() {
    }

    /**
     * @return the CPUs in ascending order without duplicates; empty for an empty list (a memory-only node)
     * @throws IllegalArgumentException when the text is not a CPU list
     */
    public static List<Integer> parse(String text) {
        TreeSet<Integer> cpus = new TreeSet<>();
        String s = text.strip();
        if (s.isEmpty()) {
            return List.of();
        }
        for (String part : s.split(",")) {
            String p = part.strip();
            int dash = p.indexOf('-');
            try {
                if (dash < 0) {
                    cpus.add(nonNegative(Integer.parseInt(p), text));
                } else {
                    int from = nonNegative(Integer.parseInt(p.substring(0, dash)), text);
                    int to = nonNegative(Integer.parseInt(p.substring(dash + 1)), text);
                    if (to < from) {
                        throw new IllegalArgumentException("descending range in CPU list: " + text);
                    }
                    for (int c = from; c <= to; c++) {
                        cpus.add(c);
                    }
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a CPU list: " + text, e);
            }
        }
        return List.copyOf(cpus);
    }

    /** The kernel's own rendering: ascending, consecutive runs collapsed to ranges ("0-3,8,10-11"). */
    public static String format(List<Integer> cpus) {
        List<Integer> sorted = new ArrayList<>(new TreeSet<>(cpus));
        StringBuilder sb = new StringBuilder();
        int i = 0;
        while (i < sorted.size()) {
            int j = i;
            while (j + 1 < sorted.size() && sorted.get(j + 1) == sorted.get(j) + 1) {
                j++;
            }
            if (sb.length() > 0) {
                sb.append(',');
            }
            sb.append(sorted.get(i));
            if (j > i) {
                sb.append('-').append(sorted.get(j));
            }
            i = j + 1;
        }
        return sb.toString();
    }

    private static int nonNegative(int cpu, String text) {
        if (cpu < 0) {
            throw new IllegalArgumentException("negative CPU in list: " + text);
        }
        return cpu;
    }
}
