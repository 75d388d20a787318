package io.gpucloud.protocol;

import java.util.List;

/**
 * @param id        logical CPU number
 * @param socket    physical package id
 * @param core      core id within the package
 * @param numaNode  NUMA node the CPU belongs to
 * @param siblings  logical CPUs sharing the physical core (itself included), from thread_siblings_list
 */
public record Cpu(int id, int socket, int core, int numaNode, List<Integer> siblings) {
    public Cpu {
        siblings = List.copyOf(siblings);
    }
}
