package io.gpucloud.placement;

/**
 * What every scorer may read besides the host: the request and the clock reading of this
 * decide() call.
 *
 * @param request     the request being placed
 * @param nowMillis   the policy clock at the start of decide()
 * @param endMillis   nowMillis + expectedDuration, or {@link Long#MIN_VALUE} when the request has no hint
 * @param hostCount   number of candidate hosts handed to decide()
 */
public record ScoringContext(PlacementRequest request, long nowMillis, long endMillis, int hostCount) {

    public boolean hasLifetimeHint() {
        return endMillis != Long.MIN_VALUE;
    }

    public long durationMillis() {
        return hasLifetimeHint() ? endMillis - nowMillis : 0;
    }
}
