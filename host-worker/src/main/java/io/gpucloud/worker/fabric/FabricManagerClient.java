package io.gpucloud.worker.fabric;

import io.gpucloud.protocol.FabricPartition;
import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.fabric.FabricManagerException.Reason;
import io.gpucloud.worker.pci.Bdf;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Lists, activates and deactivates fabric partitions through fmpm. Activation and deactivation are
 * idempotent: workflow steps are retried after crashes, so "already active" and "already inactive"
 * are successes, not errors.
 */
public final class FabricManagerClient {

    public enum Outcome {
        ACTIVATED, ALREADY_ACTIVE, DEACTIVATED, ALREADY_INACTIVE
    }

    private static final JsonMapper JSON = JsonMapper.builder().build();

    private final Fmpm fmpm;

    public FabricManagerClient(Fmpm fmpm) {
        this.fmpm = fmpm;
    }

    public PartitionListing list() throws FabricManagerException {
        CommandResult r = fmpm.run("-l");
        check(r, "list partitions", false);
        try {
            JsonNode root = JSON.readTree(r.stdout());
            JsonNode infos = root.path("partitionInfo");
            if (!infos.isArray()) {
                throw new FabricManagerException(Reason.BAD_OUTPUT, r.exitCode(), "fmpm -l printed no partitionInfo");
            }
            List<FabricPartition> partitions = new ArrayList<>();
            Map<Integer, String> bdfs = new HashMap<>();
            for (JsonNode p : infos) {
                List<Integer> modules = new ArrayList<>();
                for (JsonNode g : p.path("gpuInfo")) {
                    int module = requireInt(g, "physicalId");
                    modules.add(module);
                    Bdf.parse(g.path("pciBusId").asString("")).ifPresent(bdf -> bdfs.put(module, bdf));
                }
                modules.sort(null);
                JsonNode isActive = p.path("isActive");
                boolean active = isActive.isBoolean() ? isActive.asBoolean() : isActive.asInt(0) != 0;
                partitions.add(new FabricPartition(requireInt(p, "partitionId"), modules.size(), modules, active, true));
            }
            int max = root.path("maxNumPartitions").asInt(partitions.size());
            return new PartitionListing(partitions, max, bdfs);
        } catch (JacksonException | IllegalArgumentException e) {
            throw new FabricManagerException(Reason.BAD_OUTPUT, r.exitCode(), "cannot read fmpm -l output: " + e.getMessage());
        }
    }

    public Outcome activate(int partitionId) throws FabricManagerException {
        CommandResult r = fmpm.run("-a", Integer.toString(partitionId));
        int code = r.exitCode();
        if (code == 0) {
            return Outcome.ACTIVATED;
        }
        if (code == FmReturn.exitStatus(FmReturn.PARTITION_ID_IN_USE)) {
            return Outcome.ALREADY_ACTIVE;
        }
        if (code == FmReturn.exitStatus(FmReturn.IN_USE)) {
            // Older Fabric Manager releases say IN_USE both for "already active" and for "GPUs held by an
            // overlapping partition"; the listing tells which.
            boolean selfActive = list().partitions().stream()
                    .anyMatch(p -> p.partitionId() == partitionId && p.active());
            if (selfActive) {
                return Outcome.ALREADY_ACTIVE;
            }
            throw new FabricManagerException(Reason.PARTITION_CONFLICT, code,
                    "partition " + partitionId + " overlaps an active partition: " + r.message());
        }
        check(r, "activate partition " + partitionId, true);
        throw unexpected(r, "activate partition " + partitionId);
    }

    public Outcome deactivate(int partitionId) throws FabricManagerException {
        CommandResult r = fmpm.run("-d", Integer.toString(partitionId));
        int code = r.exitCode();
        if (code == 0) {
            return Outcome.DEACTIVATED;
        }
        if (code == FmReturn.exitStatus(FmReturn.PARTITION_ID_NOT_IN_USE)
                || code == FmReturn.exitStatus(FmReturn.UNINITIALIZED)) {
            return Outcome.ALREADY_INACTIVE;
        }
        check(r, "deactivate partition " + partitionId, true);
        throw unexpected(r, "deactivate partition " + partitionId);
    }

    /** Re-declares the active partitions after a Fabric Manager restart (restart mode waits for this). */
    public void setActivatedList(Collection<Integer> partitionIds) throws FabricManagerException {
        String list = partitionIds.stream().sorted().map(String::valueOf).collect(Collectors.joining(","));
        check(fmpm.run("--set-activated-list", list), "set activated partitions " + list, true);
    }

    /** @param aboutPartitions the command named partition ids, so a bad parameter means an unknown partition */
    private static void check(CommandResult r, String what, boolean aboutPartitions) throws FabricManagerException {
        int code = r.exitCode();
        if (code == 0) {
            return;
        }
        if (code == CommandResult.NOT_FOUND) {
            throw new FabricManagerException(Reason.NOT_INSTALLED, code, "fmpm is not installed: " + r.message());
        }
        if (code == FmReturn.exitStatus(FmReturn.CONNECTION_NOT_VALID) || r.stdout().contains("Failed to connect")) {
            throw new FabricManagerException(Reason.NOT_RUNNING, code, "Fabric Manager is not reachable: " + r.message());
        }
        if (aboutPartitions && code == FmReturn.exitStatus(FmReturn.BADPARAM)) {
            throw new FabricManagerException(Reason.PARTITION_UNKNOWN, code, "cannot " + what + ": " + r.message());
        }
        throw unexpected(r, what);
    }

    private static FabricManagerException unexpected(CommandResult r, String what) {
        return new FabricManagerException(Reason.FAILED, r.exitCode(),
                "cannot " + what + " (fmpm exit " + r.exitCode() + "): " + r.message());
    }

    private static int requireInt(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || !v.canConvertToInt()) {
            throw new IllegalArgumentException("missing integer " + field);
        }
        return v.asInt();
    }
}
