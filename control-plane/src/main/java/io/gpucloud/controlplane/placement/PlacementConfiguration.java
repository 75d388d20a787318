package io.gpucloud.controlplane.placement;

import io.gpucloud.placement.PlacementPolicy;
import io.gpucloud.placement.PolicyWeights;
import java.time.Clock;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/** The policy with its weights from {@code gpucloud.placement.weights.*} (defaults in PolicyWeights). */
@Configuration(proxyBeanMethods = false)
class PlacementConfiguration {

    @Bean
    PlacementPolicy placementPolicy(Environment env) {
        PolicyWeights d = PolicyWeights.DEFAULTS;
        PolicyWeights weights = new PolicyWeights(
                weight(env, "best-fit", d.bestFit()),
                weight(env, "least-damage", d.leastDamage()),
                weight(env, "keep-empty-hosts", d.keepEmptyHosts()),
                weight(env, "lifetime", d.lifetime()),
                weight(env, "lifetime-tightness", d.lifetimeTightness()),
                weight(env, "numa-locality", d.numaLocality()),
                weight(env, "cpu-only-on-gpu-host", d.cpuOnlyOnGpuHost()),
                weight(env, "reserved-empty-hosts", d.reservedEmptyHosts()),
                weight(env, "reserve-exempt-minutes", d.reserveExemptMinutes()));
        return new PlacementPolicy(weights, Clock.systemUTC());
    }

    private static double weight(Environment env, String name, double fallback) {
        return env.getProperty("gpucloud.placement.weights." + name, Double.class, fallback);
    }
}
