package io.gpucloud.placement;

/**
 * What every scorer may read besides the host: the request and the clock reading of this
 * decide() call.
 *
 * @param request     the request being placed
 * @param nowMillis   the policy clock at the start of decide()
 * @param endMillis   nowMillis + expectedDuration, or {@link Long#MIN_VALUE} when the request has no hint
 * @param hostCount   number of candidate hosts handed to decide()
 * @param emptyHosts  fleet-wide count of hosts of the request's model (and location) that take VMs and
 *                    hold nothing, as the caller counted them (the candidate list may be a subset); -1
 *                    when the caller did not say
 */
public record ScoringContext(PlacementRequest request, long nowMillis, long endMillis, int hostCount,
                             int emptyHosts) {

    public static final int UNKNOWN = -1;

    public ScoringContext(PlacementRequest request, long nowMillis, long endMillis, int hostCount) {
        this(request, nowMillis, endMillis, hostCount, UNKNOWN);
    }

    public boolean knowsEmptyHosts() {
        return emptyHosts >= 0;
    }

    public boolean hasLifetimeHint() {
        return endMillis != Long.MIN_VALUE;
    }

    public long durationMillis() {
        return hasLifetimeHint() ? endMillis - nowMillis : 0;
    }
}
