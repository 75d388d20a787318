package io.gpucloud.controlplane.placement;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * @param candidateLimit     hosts the candidate query hands to the policy per request
 * @param maxClaimAttempts   ranked placements tried before re-reading the fleet
 * @param maxRounds          fresh snapshots taken before giving up on a contended request
 */
@ConfigurationProperties("gpucloud.placement")
public record PlacementProperties(Integer candidateLimit, Integer maxClaimAttempts, Integer maxRounds) {
    public PlacementProperties {
        if (candidateLimit == null) candidateLimit = 8;
        if (maxClaimAttempts == null) maxClaimAttempts = 8;
        if (maxRounds == null) maxRounds = 4;
    }
}
