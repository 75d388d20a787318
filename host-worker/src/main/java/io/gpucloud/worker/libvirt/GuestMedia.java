package io.gpucloud.worker.libvirt;

import java.nio.file.Path;

/**
 * What the domain boots from and reads its cloud-init seed from, as files on this host.
 *
 * @param bootDisk the VM's own copy-on-write overlay of its boot image (qcow2), or null for no disk
 * @param seed     the NoCloud seed volume (ISO 9660, label cidata), or null for none
 */
public record GuestMedia(Path bootDisk, Path seed) {
}
