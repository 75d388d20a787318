-- Which boot images each host holds, as its worker reports them with every heartbeat (issue: provisioning).
--
-- A VM's disk is a copy-on-write overlay of its boot image's file on the host (boot_disk), so a host
-- without that file can only fail the create at define time. Placement now skips such hosts and says so
-- ("2 lack the boot image ..."). NULL means the worker has not said (a worker older than this column):
-- such a host is taken to hold every image, as before.
ALTER TABLE host ADD COLUMN boot_images text[];

-- Placement caches the list, so a change is announced like the other columns it reads.
DROP TRIGGER host_placement_changed ON host;
CREATE TRIGGER host_placement_changed
    AFTER UPDATE OF state, passthrough_capable, virtualization_mode, virtualization_status, topology_reported_at,
                    gpu_model, location, total_gpus, boot_images ON host
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state
                       OR OLD.passthrough_capable IS DISTINCT FROM NEW.passthrough_capable
                       OR OLD.virtualization_mode IS DISTINCT FROM NEW.virtualization_mode
                       OR OLD.virtualization_status IS DISTINCT FROM NEW.virtualization_status
                       OR OLD.topology_reported_at IS DISTINCT FROM NEW.topology_reported_at
                       OR OLD.gpu_model IS DISTINCT FROM NEW.gpu_model
                       OR OLD.location IS DISTINCT FROM NEW.location
                       OR OLD.total_gpus IS DISTINCT FROM NEW.total_gpus
                       OR OLD.boot_images IS DISTINCT FROM NEW.boot_images)
    EXECUTE FUNCTION notify_placement_host();
