package io.gpucloud.controlplane.placement;

import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * @param candidateLimit     hosts candidate selection hands to the policy per request
 * @param maxClaimAttempts   ranked placements tried before re-reading the fleet
 * @param maxRounds          fresh decisions taken before giving up on a contended request
 * @param cacheRefreshMillis how often the fleet cache re-reads every host's allocation version (other
 *                           instances' claims); claims are checked against the database either way
 * @param lockWaitMillis     how long a claim waits for another thread of this instance claiming on the
 *                           same host before trying the next candidate (0: never wait)
 */
@ConfigurationProperties("gpucloud.placement")
public record PlacementProperties(Integer candidateLimit, Integer maxClaimAttempts, Integer maxRounds,
                                  Long cacheRefreshMillis, Long lockWaitMillis) {
    public PlacementProperties {
        if (candidateLimit == null) candidateLimit = 8;
        if (maxClaimAttempts == null) maxClaimAttempts = 8;
        if (maxRounds == null) maxRounds = 4;
        if (cacheRefreshMillis == null) cacheRefreshMillis = 1000L;
        if (lockWaitMillis == null) lockWaitMillis = 0L;
    }
}
