package io.gpucloud.placement.score;

import io.gpucloud.placement.AllocationUnit;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.Scorer;
import io.gpucloud.placement.ScoringContext;

/**
 * 1 when a GPU VM smaller than the largest free unit would open a host nobody uses yet: untouched
 * boards are kept whole for the VMs that need a whole board.
 */
public final class EmptyHostScorer implements Scorer {

    public static final String NAME = "keep-empty-hosts";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public double score(ScoringContext ctx, HostView host, AllocationUnit unit) {
        int size = ctx.request().gpuCount();
        return size > 0 && host.heldGpus() == 0 && host.maxFreeUnitSize() > size ? 1 : 0;
    }
}
