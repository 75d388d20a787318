package io.gpucloud.worker.catalog;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The GPU virtualization modes a host can be switched to, their parameters, and the MIG profile table
 * ({@code catalog/virtualization-modes.json}). Which mode fits which host, what a parameter may be, and
 * how MIG instances pack onto a GPU are data here, not branches in the control plane or the worker: the
 * control plane validates requests with {@link #validate}, the worker and the nvidia-smi simulator place
 * MIG instances with {@link #placeNext}, so a request the control plane accepts is one the simulator can
 * build.
 */
public final class VirtualizationCatalog {

    public static final String PASSTHROUGH = "passthrough";
    public static final String MIG = "mig";
    public static final String HAMI = "hami";

    /** A parameter value the mode does not accept; {@code field} is the parameter's name ("profiles"). */
    public static final class InvalidParameter extends Exception {
        private static final long serialVersionUID = 1L;
        private final String field;

        public InvalidParameter(String field, String message) {
            super(message);
            this.field = field;
        }

        public String field() {
            return field;
        }
    }

    public record Vendor(String id, List<String> pciVendorIds) {
        public Vendor {
            pciVendorIds = pciVendorIds == null ? List.of() : List.copyOf(pciVendorIds);
        }
    }

    /** Hosts a mode fits: GPUs of one of {@code vendors} and, if {@code gpuModels} is non-empty, one of those models. */
    public record AppliesTo(List<String> vendors, List<String> gpuModels) {
        public AppliesTo {
            vendors = vendors == null ? List.of() : List.copyOf(vendors);
            gpuModels = gpuModels == null ? List.of() : List.copyOf(gpuModels);
        }
    }

    /**
     * @param type          int, number or migProfiles
     * @param min           inclusive lower bound (int, number)
     * @param exclusiveMin  exclusive lower bound (number)
     * @param max           inclusive upper bound
     * @param minItems      fewest list items (migProfiles)
     * @param maxItems      most list items (migProfiles)
     */
    public record Param(String name, String type, boolean required, @JsonProperty("default") Object defaultValue,
                        Double min, Double exclusiveMin, Double max, Integer minItems, Integer maxItems,
                        String description) {
    }

    public record Mode(String id, String vendor, String label, String description, AppliesTo appliesTo,
                       List<Param> params) {
        public Mode {
            params = params == null ? List.of() : List.copyOf(params);
        }
    }

    /** One MIG GPU-instance profile: slices it takes, how many fit on a GPU, where it may start. */
    public record MigProfile(int id, int computeSlices, int memorySlices, int max, List<Integer> starts) {
    }

    /** A MIG-capable GPU model and its profile names ("19" → "1g.10gb"). */
    public record MigGpu(String gpuModel, List<String> pciIds, Map<String, String> names) {
        public String profileName(int profileId) {
            return names.getOrDefault(Integer.toString(profileId), "profile " + profileId);
        }
    }

    public record MigTable(int computeSlices, int memorySlices, List<MigProfile> profiles, List<MigGpu> gpus) {
    }

    /** A GPU instance placed on a GPU: its profile and first memory slice. */
    public record MigPlacement(int profileId, int start) {
    }

    record FileJson(List<Vendor> vendors, List<Mode> modes, MigTable mig) {
    }

    private static volatile VirtualizationCatalog builtin;

    private final List<Vendor> vendors;
    private final List<Mode> modes;
    private final MigTable mig;

    private VirtualizationCatalog(FileJson file) {
        this.vendors = List.copyOf(file.vendors());
        this.modes = List.copyOf(file.modes());
        this.mig = file.mig();
        for (Mode m : modes) {
            for (Param p : m.params()) {
                if (!List.of("int", "number", "migProfiles").contains(p.type())) {
                    throw new IllegalArgumentException("mode " + m.id() + " parameter " + p.name()
                            + " has unknown type " + p.type());
                }
            }
        }
    }

    public static VirtualizationCatalog builtin() {
        VirtualizationCatalog c = builtin;
        if (c == null) {
            c = load(CatalogJson.resource("virtualization-modes.json"));
            builtin = c;
        }
        return c;
    }

    public static VirtualizationCatalog load(InputStream json) {
        return new VirtualizationCatalog(CatalogJson.read(json, FileJson.class));
    }

    public List<Mode> modes() {
        return modes;
    }

    public Optional<Mode> mode(String id) {
        return modes.stream().filter(m -> m.id().equals(id)).findFirst();
    }

    public List<String> modeIds() {
        return modes.stream().map(Mode::id).toList();
    }

    /** The vendor ("nvidia", "cambricon") of a PCI vendor id ("10de"), empty when the catalog does not know it. */
    public Optional<String> vendorOfPciVendor(String pciVendorId) {
        if (pciVendorId == null) {
            return Optional.empty();
        }
        String id = pciVendorId.toLowerCase(Locale.ROOT).replace("0x", "");
        return vendors.stream().filter(v -> v.pciVendorIds().contains(id)).map(Vendor::id).findFirst();
    }

    /** Whether {@code mode} fits a host whose GPUs are of {@code vendor} and {@code gpuModel} (both may be null). */
    public static boolean applies(Mode mode, String vendor, String gpuModel) {
        if (vendor == null || !mode.appliesTo().vendors().contains(vendor)) {
            return false;
        }
        return mode.appliesTo().gpuModels().isEmpty() || mode.appliesTo().gpuModels().contains(gpuModel);
    }

    public MigTable migTable() {
        return mig;
    }

    public Optional<MigGpu> migGpu(String gpuModel) {
        return mig.gpus().stream().filter(g -> g.gpuModel().equals(gpuModel)).findFirst();
    }

    /** The MIG-capable GPU with this PCI id ("10de:2330"), empty for GPUs without MIG. */
    public Optional<MigGpu> migGpuByPciId(String vendorDevice) {
        String id = vendorDevice.toLowerCase(Locale.ROOT);
        return mig.gpus().stream().filter(g -> g.pciIds().contains(id)).findFirst();
    }

    public Optional<MigProfile> migProfile(int id) {
        return mig.profiles().stream().filter(p -> p.id() == id).findFirst();
    }

    /**
     * Where the next GPU instance of {@code profileId} goes on a GPU that already holds {@code placed}: the
     * lowest allowed start whose memory slices are all free, provided the GPU has compute slices left and
     * the profile's per-GPU maximum is not reached. Empty when it does not fit ("Insufficient Resources").
     */
    public OptionalInt placeNext(int profileId, List<MigPlacement> placed) {
        MigProfile profile = migProfile(profileId).orElse(null);
        if (profile == null) {
            return OptionalInt.empty();
        }
        long same = placed.stream().filter(p -> p.profileId() == profileId).count();
        int compute = 0;
        boolean[] used = new boolean[mig.memorySlices()];
        for (MigPlacement p : placed) {
            MigProfile other = migProfile(p.profileId()).orElseThrow();
            compute += other.computeSlices();
            for (int s = p.start(); s < p.start() + other.memorySlices() && s < used.length; s++) {
                used[s] = true;
            }
        }
        if (same >= profile.max() || compute + profile.computeSlices() > mig.computeSlices()) {
            return OptionalInt.empty();
        }
        for (int start : profile.starts()) {
            boolean free = start + profile.memorySlices() <= used.length;
            for (int s = start; free && s < start + profile.memorySlices(); s++) {
                free = !used[s];
            }
            if (free) {
                return OptionalInt.of(start);
            }
        }
        return OptionalInt.empty();
    }

    /** Places {@code profileIds} in order on an empty GPU; throws naming the first that does not fit. */
    public List<MigPlacement> pack(List<Integer> profileIds, MigGpu gpu) throws InvalidParameter {
        List<MigPlacement> placed = new ArrayList<>();
        for (int i = 0; i < profileIds.size(); i++) {
            int id = profileIds.get(i);
            if (migProfile(id).isEmpty()) {
                throw new InvalidParameter("profiles", "profiles[" + i + "] = " + id + " is not a MIG profile id of "
                        + gpu.gpuModel() + "; known: " + gpu.names().keySet());
            }
            OptionalInt start = placeNext(id, placed);
            if (start.isEmpty()) {
                throw new InvalidParameter("profiles", "profiles[" + i + "] = " + id + " (" + gpu.profileName(id)
                        + ") does not fit on a " + gpu.gpuModel() + " after " + describe(placed, gpu) + ": "
                        + explain(id, placed));
            }
            placed.add(new MigPlacement(id, start.getAsInt()));
        }
        return placed;
    }

    private String explain(int id, List<MigPlacement> placed) {
        MigProfile p = migProfile(id).orElseThrow();
        long same = placed.stream().filter(x -> x.profileId() == id).count();
        if (same >= p.max()) {
            return "at most " + p.max() + " per GPU";
        }
        int compute = placed.stream().mapToInt(x -> migProfile(x.profileId()).orElseThrow().computeSlices()).sum();
        if (compute + p.computeSlices() > mig.computeSlices()) {
            return "needs " + p.computeSlices() + " compute slices, " + (mig.computeSlices() - compute) + " of "
                    + mig.computeSlices() + " left";
        }
        return "no free run of " + p.memorySlices() + " memory slices at an allowed start " + p.starts()
                + " (order matters: place larger instances first)";
    }

    private static String describe(List<MigPlacement> placed, MigGpu gpu) {
        if (placed.isEmpty()) {
            return "nothing";
        }
        List<String> parts = new ArrayList<>();
        for (MigPlacement p : placed) {
            parts.add(gpu.profileName(p.profileId()) + "@" + p.start());
        }
        return String.join(", ", parts);
    }

    /**
     * Checks {@code params} against the mode's parameter list and returns them complete (defaults filled in,
     * numbers normalised: ints as Integer, numbers as Double, MIG profiles as a list of Integer).
     *
     * @param gpuModel the host's GPU model, for MIG profile packing
     */
    public Map<String, Object> validate(Mode mode, Map<String, Object> params, String gpuModel) throws InvalidParameter {
        Map<String, Object> given = params == null ? Map.of() : params;
        for (String name : given.keySet()) {
            if (mode.params().stream().noneMatch(p -> p.name().equals(name))) {
                throw new InvalidParameter(name, "mode " + mode.id() + " has no parameter '" + name + "'"
                        + (mode.params().isEmpty() ? "; it takes none"
                        : "; it takes " + mode.params().stream().map(Param::name).toList()));
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        for (Param p : mode.params()) {
            Object v = given.get(p.name());
            if (v == null) {
                if (p.required() && p.defaultValue() == null) {
                    throw new InvalidParameter(p.name(), "mode " + mode.id() + " needs '" + p.name() + "': "
                            + p.description());
                }
                v = p.defaultValue();
            }
            out.put(p.name(), switch (p.type()) {
                case "int" -> integer(p, v);
                case "number" -> number(p, v);
                default -> profiles(p, v, gpuModel);
            });
        }
        return out;
    }

    private static Integer integer(Param p, Object v) throws InvalidParameter {
        if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
            throw new InvalidParameter(p.name(), "'" + p.name() + "' must be a whole number, not " + v);
        }
        int i = n.intValue();
        bounds(p, i);
        return i;
    }

    private static Double number(Param p, Object v) throws InvalidParameter {
        if (!(v instanceof Number n) || Double.isNaN(n.doubleValue()) || Double.isInfinite(n.doubleValue())) {
            throw new InvalidParameter(p.name(), "'" + p.name() + "' must be a number, not " + v);
        }
        double d = n.doubleValue();
        bounds(p, d);
        return d;
    }

    private static void bounds(Param p, double v) throws InvalidParameter {
        if ((p.min() != null && v < p.min()) || (p.exclusiveMin() != null && v <= p.exclusiveMin())
                || (p.max() != null && v > p.max())) {
            String low = p.min() != null ? fmt(p.min()) + " ≤ " : p.exclusiveMin() != null ? fmt(p.exclusiveMin()) + " < " : "";
            String high = p.max() != null ? " ≤ " + fmt(p.max()) : "";
            throw new InvalidParameter(p.name(), "'" + p.name() + "' must be " + low + p.name() + high + ", not "
                    + fmt(v));
        }
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }

    private List<Integer> profiles(Param p, Object v, String gpuModel) throws InvalidParameter {
        if (!(v instanceof List<?> list)) {
            throw new InvalidParameter(p.name(), "'" + p.name() + "' must be a list of MIG profile ids, e.g. [19, 19, 9]");
        }
        if ((p.minItems() != null && list.size() < p.minItems()) || (p.maxItems() != null && list.size() > p.maxItems())) {
            throw new InvalidParameter(p.name(), "'" + p.name() + "' must list " + p.minItems() + " to " + p.maxItems()
                    + " profile ids, not " + list.size());
        }
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            Object o = list.get(i);
            if (!(o instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())) {
                throw new InvalidParameter(p.name(), p.name() + "[" + i + "] must be a MIG profile id, not " + o);
            }
            ids.add(n.intValue());
        }
        MigGpu gpu = migGpu(gpuModel).orElseThrow(() -> new InvalidParameter(p.name(),
                "GPU model " + gpuModel + " has no MIG profile table"));
        pack(ids, gpu);
        return List.copyOf(ids);
    }
}
