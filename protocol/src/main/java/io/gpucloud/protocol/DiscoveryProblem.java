package io.gpucloud.protocol;

/**
 * Something discovery found odd. Reported to operators, never thrown.
 *
 * @param severity "info", "warning" or "error"
 * @param code     stable machine-readable code, e.g. "numa-node-unknown", "iommu-off", "gpu-missing"
 * @param subject  what it is about (a BDF, a module id, a path)
 * @param message  a sentence for a human
 */
public record DiscoveryProblem(String severity, String code, String subject, String message) {
    public static DiscoveryProblem warning(String code, String subject, String message) {
        return new DiscoveryProblem("warning", code, subject, message);
    }

    public static DiscoveryProblem error(String code, String subject, String message) {
        return new DiscoveryProblem("error", code, subject, message);
    }

    public static DiscoveryProblem info(String code, String subject, String message) {
        return new DiscoveryProblem("info", code, subject, message);
    }
}
