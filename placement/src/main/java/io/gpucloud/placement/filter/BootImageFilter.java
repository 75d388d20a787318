package io.gpucloud.placement.filter;

import io.gpucloud.placement.HostFilter;
import io.gpucloud.placement.HostView;
import io.gpucloud.placement.PlacementRequest;

/**
 * The request's boot image, where the host's worker has said which images it holds: the VM's disk is
 * an overlay of that file, so a host without it could only fail the create at define time.
 */
public final class BootImageFilter implements HostFilter {

    public static final String NAME = "boot-image";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean admit(PlacementRequest request, HostView host) {
        return host.snapshot().holdsBootImage(request.bootImage());
    }

    @Override
    public String explain(PlacementRequest request, int rejectedHosts) {
        return rejectedHosts + " lack the boot image " + fileName(request.bootImage());
    }

    /** The image's file name: what an operator recognizes, without telling customers the host's layout. */
    public static String fileName(String image) {
        return image.substring(image.lastIndexOf('/') + 1);
    }
}
