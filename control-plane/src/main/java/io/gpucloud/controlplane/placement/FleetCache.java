package io.gpucloud.controlplane.placement;

import io.gpucloud.controlplane.database.PgNotifications;
import io.gpucloud.placement.GpuSnapshot;
import io.gpucloud.placement.HostSnapshot;
import io.gpucloud.placement.NumaSnapshot;
import io.gpucloud.placement.PartitionSnapshot;
import io.gpucloud.placement.Placement;
import io.gpucloud.placement.PlacementRequest;
import io.gpucloud.placement.ScoringContext;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * The fleet as placement last saw it, in memory: per host the placement-relevant columns of its row
 * (with its {@code alloc_version}) and, once it has been a candidate, its full {@link HostSnapshot}.
 * A placement picks candidates and decides from here without any query; the claim then names the
 * version it decided on and the database refuses it if the host moved on ({@code claim_placement_at},
 * SQLSTATE GC002), so a stale cache costs a re-read of one host, never a wrong allocation.
 *
 * <p>Kept fresh three ways: our own claims and releases apply their exact delta (the database
 * returned the versions before and after, so we know nothing else happened in between); other
 * changes that do not bump the version (state, mode, topology, GPU health, new hosts) arrive as
 * {@code placement_host} notifications; and a poll of every host's version every
 * {@code gpucloud.placement.cache-refresh-millis} picks up other instances' allocations (every
 * 30th poll reads every host row whole, in case an announcement was missed).
 */
@Component
class FleetCache implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(FleetCache.class);
    static final String CHANNEL = "placement_host";
    private static final int WARM_BATCH = 200;
    // Every host row whole every 30 polls: a safety net for announcements missed while the listener
    // reconnected (state, mode, topology and health changes do not move the allocation version).
    private static final int FULL_REFRESH_EVERY_POLLS = 30;

    /** The columns of a host row that candidate selection and the claim's version check read. */
    record HostRow(UUID id, String state, String gpuModel, String location, boolean passthroughCapable,
                   String virtualizationMode, String virtualizationStatus, Instant topology, long allocVersion,
                   int totalGpus, int usedGpus, int totalCpus, int usedCpus, long totalMemoryMiB,
                   long usedMemoryMiB, int totalHugepages, int usedHugepages, Set<String> bootImages) {

        /** As {@link HostSnapshot#holdsBootImage}: true unless the host reported its images without this one. */
        boolean holdsBootImage(String image) {
            return HostSnapshot.holdsBootImage(bootImages, image);
        }

        /** The host filter of the former candidate query (keep both in step with the policy's filters). */
        boolean takesVms() {
            return "ready".equals(state) && passthroughCapable && "passthrough".equals(virtualizationMode)
                    && "ready".equals(virtualizationStatus);
        }

        boolean sameShape(HostRow o) {
            return allocVersion == o.allocVersion && sameExceptAllocations(o) && usedGpus == o.usedGpus
                    && usedCpus == o.usedCpus && usedMemoryMiB == o.usedMemoryMiB && usedHugepages == o.usedHugepages;
        }

        /** Same host as far as placement cares, apart from what is allocated on it. */
        boolean sameExceptAllocations(HostRow o) {
            return state.equals(o.state) && passthroughCapable == o.passthroughCapable
                    && virtualizationMode.equals(o.virtualizationMode)
                    && virtualizationStatus.equals(o.virtualizationStatus) && topology.equals(o.topology)
                    && java.util.Objects.equals(gpuModel, o.gpuModel) && location.equals(o.location)
                    && totalGpus == o.totalGpus && totalCpus == o.totalCpus && totalMemoryMiB == o.totalMemoryMiB
                    && totalHugepages == o.totalHugepages && java.util.Objects.equals(bootImages, o.bootImages);
        }

        HostRow withUsage(long version, int gpus, int cpus, long memory, int pages) {
            return new HostRow(id, state, gpuModel, location, passthroughCapable, virtualizationMode,
                    virtualizationStatus, topology, version, totalGpus, usedGpus + gpus, totalCpus, usedCpus + cpus,
                    totalMemoryMiB, usedMemoryMiB + memory, totalHugepages, usedHugepages + pages, bootImages);
        }
    }

    /** A row and, if loaded and current for that row's version, the host's snapshot (else null). */
    record Entry(HostRow row, HostSnapshot snapshot) {
    }

    /**
     * One host: its current entry, its counters packed into its model group's arrays (what candidate
     * selection scans) and an in-process lock so this instance claims on it one at a time. Change the
     * entry only through {@link #set} while holding the slot's monitor.
     */
    static final class Slot {
        volatile Entry entry;
        final ReentrantLock claiming = new ReentrantLock();
        // claims and releases of this instance on the host that may be committed but not yet applied
        final AtomicInteger ownChanges = new AtomicInteger();
        Group group;
        int index;

        Slot(Entry entry) {
            this.entry = entry;
        }

        void set(Entry e) {
            entry = e;
            Group g = group;
            if (g != null) {
                g.publish(index, e.row());
            }
        }
    }

    /**
     * The hosts of one GPU model as flat arrays, so choosing candidates among thousands of hosts
     * touches a few kilobytes instead of thousands of objects: per host a packed word (takes VMs,
     * free and total GPUs, unused, free CPUs and hugepages), its free memory and its location.
     *
     * <p>The hosts that take VMs are also indexed by free GPUs ({@link #BUCKETS} buckets, the last for
     * more than 8), unused and partly used apart, as bitsets. Best fit wants the fullest hosts that
     * still fit, so candidate selection reads the buckets from the request's size upwards and stops
     * once it has enough: it looks at a few dozen hosts instead of every host of the model.
     */
    static final class Group {
        static final int BUCKETS = 10;

        final Slot[] slots;
        final java.util.concurrent.atomic.AtomicLongArray packed;
        final java.util.concurrent.atomic.AtomicLongArray freeMemory;
        final AtomicIntegerArray location;
        // members[bucket * 2 + (unused ? 1 : 0)]: a bit per slot index
        private final java.util.concurrent.atomic.AtomicLongArray[] members;
        // the member set each index is in, -1 for none; written under the slot's monitor only
        private final int[] memberOf;
        private final Map<String, Integer> locations;
        private final AtomicInteger nextLocation;

        Group(Slot[] slots, Map<String, Integer> locations, AtomicInteger nextLocation) {
            this.nextLocation = nextLocation;
            this.slots = slots;
            this.packed = new java.util.concurrent.atomic.AtomicLongArray(slots.length);
            this.freeMemory = new java.util.concurrent.atomic.AtomicLongArray(slots.length);
            this.location = new AtomicIntegerArray(slots.length);
            this.locations = locations;
            this.members = new java.util.concurrent.atomic.AtomicLongArray[BUCKETS * 2];
            for (int m = 0; m < members.length; m++) {
                members[m] = new java.util.concurrent.atomic.AtomicLongArray((slots.length + 63) / 64);
            }
            this.memberOf = new int[slots.length];
            java.util.Arrays.fill(memberOf, -1);
        }

        void publish(int i, HostRow h) {
            long freeGpus = clamp(h.totalGpus() - h.usedGpus(), 0xFF);
            boolean unused = h.usedGpus() == 0;
            long word = (h.takesVms() ? 0 : 1L << 63) | freeGpus | (clamp(h.totalGpus(), 0xFF) << 8)
                    | ((unused ? 1L : 0L) << 16) | (clamp(h.totalCpus() - h.usedCpus(), 0xFFFF) << 17)
                    | (clamp(h.totalHugepages() - h.usedHugepages(), 0xFFFF) << 33);
            freeMemory.set(i, h.totalMemoryMiB() - h.usedMemoryMiB());
            location.set(i, locations.computeIfAbsent(h.location(), k -> nextLocation.getAndIncrement()));
            packed.set(i, word);
            int set = h.takesVms() ? bucket(freeGpus) * 2 + (unused ? 1 : 0) : -1;
            int was = memberOf[i];
            if (set != was) {
                // into the new set before out of the old: a reader may meet the host twice, never miss it
                if (set >= 0) {
                    members[set].getAndAccumulate(i >>> 6, 1L << i, (a, bit) -> a | bit);
                }
                if (was >= 0) {
                    members[was].getAndAccumulate(i >>> 6, ~(1L << i), (a, keep) -> a & keep);
                }
                memberOf[i] = set;
            }
        }

        /** The member sets index {@code i} is in (one while it takes VMs, none otherwise). */
        List<Integer> setsOf(int i) {
            List<Integer> in = new ArrayList<>();
            for (int m = 0; m < members.length; m++) {
                if ((members[m].get(i >>> 6) & (1L << i)) != 0) {
                    in.add(m);
                }
            }
            return in;
        }

        static int bucket(long freeGpus) {
            return (int) Math.min(freeGpus, BUCKETS - 1);
        }

        /**
         * Calls {@code visit} with the index of every host in a member set, starting at a random host
         * and wrapping around, until it returns true (enough found). Returns whether it stopped early.
         */
        boolean forEachMember(int set, int start, java.util.function.IntPredicate visit) {
            var bits = members[set];
            int words = bits.length();
            if (words == 0) {
                return false;
            }
            int startWord = (start % slots.length) >>> 6;
            long below = (1L << (start & 63)) - 1; // in the start word: bits before the start come last
            for (int k = 0; k <= words; k++) {
                int w = (startWord + k) % words;
                long word = bits.get(w);
                if (k == 0) {
                    word &= ~below;
                } else if (k == words) {
                    word &= below;
                }
                while (word != 0) {
                    int i = (w << 6) + Long.numberOfTrailingZeros(word);
                    word &= word - 1;
                    if (visit.test(i)) {
                        return true;
                    }
                }
            }
            return false;
        }

        private static long clamp(long v, long max) {
            return Math.max(0, Math.min(v, max));
        }
    }

    /** What a claim needs to know about the snapshot its decision came from. */
    record Seen(long version, Instant topology) {
    }

    private record OwnClaim(UUID hostId, Placement placement, long memoryMiB) {
    }

    static final String ROW_COLUMNS = """
            id, state, gpu_model, location, passthrough_capable, virtualization_mode, virtualization_status,
            topology_reported_at, alloc_version, total_gpus, used_gpus, total_cpus, used_cpus, total_memory_mib,
            used_memory_mib, total_hugepages_1g, used_hugepages_1g, boot_images""";

    static HostRow row(java.sql.ResultSet rs) throws java.sql.SQLException {
        java.sql.Timestamp ts = rs.getTimestamp("topology_reported_at");
        return new HostRow(rs.getObject("id", UUID.class), rs.getString("state"), rs.getString("gpu_model"),
                rs.getString("location"), rs.getBoolean("passthrough_capable"), rs.getString("virtualization_mode"),
                rs.getString("virtualization_status"), ts == null ? Instant.EPOCH : ts.toInstant(),
                rs.getLong("alloc_version"), rs.getInt("total_gpus"), rs.getInt("used_gpus"), rs.getInt("total_cpus"),
                rs.getInt("used_cpus"), rs.getLong("total_memory_mib"), rs.getLong("used_memory_mib"),
                rs.getInt("total_hugepages_1g"), rs.getInt("used_hugepages_1g"), bootImages(rs.getArray("boot_images")));
    }

    /** A host's reported boot images, or null if it has not reported them. */
    static Set<String> bootImages(java.sql.Array array) throws java.sql.SQLException {
        return array == null ? null : Set.of((String[]) array.getArray());
    }

    private final JdbcClient jdbc;
    private final SnapshotLoader loader;
    private final PgNotifications notifications;
    private final long refreshMillis;
    private final MeterRegistry meters;
    private final Map<UUID, Slot> slots = new ConcurrentHashMap<>();
    // hosts grouped by GPU model (key "" for hosts without one); rebuilt when the set of hosts changes
    private volatile Map<String, Group> byModel = Map.of();
    private final Map<String, Integer> locations = new ConcurrentHashMap<>();
    private final AtomicInteger nextLocation = new AtomicInteger();
    private volatile Slot[] all = new Slot[0];
    private final Map<UUID, OwnClaim> ownClaims = new ConcurrentHashMap<>();
    private final LinkedBlockingQueue<UUID> announced = new LinkedBlockingQueue<>();
    private final Object refreshLock = new Object();
    // Full refreshes begun so far, and the number of the newest one that has completed (under refreshLock).
    private final AtomicLong refreshesBegun = new AtomicLong();
    private long newestCompletedRefresh;
    private volatile boolean loaded;
    private final AtomicBoolean running = new AtomicBoolean();
    private Thread refresher;

    FleetCache(JdbcClient jdbc, SnapshotLoader loader, PgNotifications notifications, PlacementProperties properties,
               MeterRegistry meters) {
        this.jdbc = jdbc;
        this.loader = loader;
        this.notifications = notifications;
        this.refreshMillis = properties.cacheRefreshMillis();
        this.meters = meters;
    }

    // ---------------------------------------------------------------- candidate selection

    /**
     * The hosts the former candidate query returned, from memory: ready passthrough hosts that match
     * the request's model, location and host filter and whose counters have room; best fit first
     * (empty boards last for GPU requests, GPU hosts last for CPU-only ones), a random tie-break so
     * concurrent requests spread over equals, and hosts this instance is claiming on right now last.
     */
    List<Slot> candidates(PlacementRequest r, int limit) {
        ensureLoaded();
        Map<String, Group> groups = byModel;
        Collection<Group> pool;
        if (r.gpuModel() == null) {
            pool = groups.values();
        } else {
            Group g = groups.get(r.gpuModel());
            pool = g == null ? List.of() : List.of(g);
        }
        int loc = locationIndex(r);
        if (loc == NO_SUCH_LOCATION || limit <= 0) {
            return List.of();
        }
        return pick(pool, r, loc, limit, ThreadLocalRandom.current());
    }

    /** {@link #candidates} over these groups; {@code loc} is the request's location index or {@code ANY_LOCATION}. */
    static List<Slot> pick(Collection<Group> pool, PlacementRequest r, int loc, int limit,
                           java.util.random.RandomGenerator random) {
        Picker picker = new Picker(r, loc, limit);
        int gpus = Math.max(0, r.gpuCount());
        // Best fit first: pass 0 holds the hosts a request should go to first, pass 1 the rest (empty
        // boards a smaller GPU request would open; GPU hosts for a CPU-only request); within a pass
        // the fewest free GPUs that still fit come first, and a random start spreads concurrent
        // requests over equals.
        for (int pass = 0; pass <= 1; pass++) {
            for (int f = Group.bucket(gpus); f < Group.BUCKETS; f++) {
                for (Group g : pool) {
                    for (int unused = 0; unused <= 1; unused++) {
                        if (!inPass(gpus, f, unused == 1, pass) || g.slots.length == 0) {
                            continue;
                        }
                        final int p = pass;
                        final int bucket = f;
                        if (g.forEachMember(f * 2 + unused, random.nextInt(g.slots.length),
                                i -> picker.offer(g, i, p, bucket))) {
                            return picker.result();
                        }
                    }
                }
            }
        }
        return picker.result();
    }

    /**
     * Whether the hosts of a member set can rank in this pass (the picker checks each host exactly;
     * this only skips sets that cannot): an unused board ranks late for a request smaller than it, a
     * GPU host ranks late for a CPU-only request.
     */
    private static boolean inPass(int gpus, int bucket, boolean unused, int pass) {
        if (bucket == Group.BUCKETS - 1) {
            return true; // more than 8 free GPUs: not told apart by bucket
        }
        if (gpus == 0) {
            return (unused && bucket == 0) == (pass == 0);
        }
        return unused ? (bucket > gpus) == (pass == 1) : pass == 0;
    }

    /**
     * Collects candidates in the order offered: up to {@code limit} hosts that fit the request and
     * no other thread of ours is claiming on, and, to fill up if those run short, hosts that one is.
     */
    private static final class Picker {
        private final Set<UUID> only;
        private final String bootImage;
        private final int loc;
        private final long gpus;
        private final long cpus;
        private final long pages;
        private final long memory;
        private final int limit;
        private final List<Slot> free;
        private final List<Slot> busy = new ArrayList<>();

        Picker(PlacementRequest r, int loc, int limit) {
            this.only = r.hostIds();
            this.bootImage = r.bootImage();
            this.loc = loc;
            this.gpus = r.gpuCount();
            this.cpus = r.vcpus();
            this.pages = r.hugepages1g();
            this.memory = r.memoryMiB();
            this.limit = limit;
            this.free = new ArrayList<>(limit);
        }

        /**
         * Offers host {@code i} of {@code g}, met in {@code bucket} during {@code pass}; true once enough
         * are collected. The host's counters are read again: one that moved since it was indexed there
         * waits for its new place.
         */
        boolean offer(Group g, int i, int pass, int bucket) {
            long w = g.packed.get(i);
            if (w < 0) {
                return false; // does not take VMs
            }
            long freeGpus = w & 0xFF;
            long totalGpus = (w >>> 8) & 0xFF;
            boolean unused = ((w >>> 16) & 1) == 1;
            long late = gpus == 0 ? (totalGpus > 0 ? 1 : 0) : (unused && gpus < totalGpus ? 1 : 0);
            if (late != pass || Group.bucket(freeGpus) != bucket || freeGpus < gpus || ((w >>> 17) & 0xFFFF) < cpus || ((w >>> 33) & 0xFFFF) < pages
                    || (loc >= 0 && g.location.get(i) != loc) || g.freeMemory.get(i) < memory) {
                return false;
            }
            Slot s = g.slots[i];
            HostRow row = s.entry.row();
            if ((!only.isEmpty() && !only.contains(row.id())) || !row.holdsBootImage(bootImage) || free.contains(s)
                    || busy.contains(s)) {
                return false;
            }
            if (s.claiming.isLocked()) {
                if (busy.size() < limit) {
                    busy.add(s); // another thread of ours is claiming there right now: rank it last
                }
                return false;
            }
            free.add(s);
            return free.size() == limit;
        }

        List<Slot> result() {
            List<Slot> out = new ArrayList<>(free);
            for (int k = 0; k < busy.size() && out.size() < limit; k++) {
                out.add(busy.get(k));
            }
            return out;
        }
    }

    /**
     * How many hosts of the request's GPU model (and location) take VMs and hold no GPU, fleet-wide:
     * the figure the policy's reservation of empty hosts reads. {@link ScoringContext#UNKNOWN} for
     * CPU-only requests, requests without a model, requests pinned to hosts and requests without a
     * lifetime hint: the reservation never holds those back, so they skip this scan of the model's hosts
     * (it would otherwise run on every placement).
     */
    int emptyHosts(PlacementRequest r) {
        if (r.gpuCount() <= 0 || r.gpuModel() == null || !r.hostIds().isEmpty() || r.expectedDuration() == null) {
            return ScoringContext.UNKNOWN;
        }
        ensureLoaded();
        Group g = byModel.get(r.gpuModel());
        if (g == null) {
            return 0;
        }
        int loc = locationIndex(r);
        if (loc == NO_SUCH_LOCATION) {
            return 0;
        }
        int[] n = {0};
        for (int f = 1; f < Group.BUCKETS; f++) { // unused with at least one free GPU: an empty GPU board
            g.forEachMember(f * 2 + 1, 0, i -> {
                if (loc < 0 || g.location.get(i) == loc) {
                    n[0]++;
                }
                return false;
            });
        }
        return n[0];
    }

    static final int ANY_LOCATION = -1;
    private static final int NO_SUCH_LOCATION = -2;

    /** The request's location as the index the groups store, {@code ANY_LOCATION} or {@code NO_SUCH_LOCATION}. */
    private int locationIndex(PlacementRequest r) {
        if (r.location() == null) {
            return ANY_LOCATION;
        }
        Integer index = locations.get(r.location());
        return index == null ? NO_SUCH_LOCATION : index;
    }

    Slot slot(UUID hostId) {
        return slots.get(hostId);
    }

    /** Every host's current entry (its snapshot null where none is loaded), or empty before the first load. */
    java.util.Optional<List<Entry>> entries() {
        if (!loaded) {
            return java.util.Optional.empty();
        }
        Slot[] hosts = all;
        List<Entry> out = new ArrayList<>(hosts.length);
        for (Slot s : hosts) {
            out.add(s.entry);
        }
        return java.util.Optional.of(out);
    }

    /**
     * Current entries of these hosts with snapshots, loading (in one batch of queries) those whose
     * snapshot is missing or was invalidated.
     */
    List<Entry> snapshots(List<Slot> chosen) {
        List<UUID> missing = new ArrayList<>();
        for (Slot s : chosen) {
            if (s.entry.snapshot() == null) {
                missing.add(s.entry.row().id());
            }
        }
        Map<UUID, Entry> fresh = missing.isEmpty() ? Map.of() : load(missing, "decision");
        List<Entry> out = new ArrayList<>(chosen.size());
        for (Slot s : chosen) {
            Entry e = s.entry;
            if (e.snapshot() == null) {
                e = fresh.get(e.row().id());
            }
            if (e != null && e.snapshot() != null) {
                out.add(e);
            }
        }
        return out;
    }

    /**
     * Reads these hosts from the database and installs what was read (unless the cache is already
     * newer). The reason is counted ({@code gpucloud.placement.cache.host.reads}): reads on a
     * placement's path ({@code decision}, {@code claim}) are what an operator wants rare; {@code warm}
     * and {@code elsewhere} (another instance allocated there) run in the background.
     */
    Map<UUID, Entry> load(Collection<UUID> hostIds, String reason) {
        meters.counter("gpucloud.placement.cache.host.reads", "reason", reason).increment(hostIds.size());
        SnapshotLoader.Loaded l = loader.load(List.copyOf(hostIds), false);
        Map<UUID, Entry> out = new HashMap<>();
        for (HostSnapshot h : l.hosts()) {
            HostRow row = l.rows().get(h.hostId());
            Entry e = new Entry(row, h);
            Entry installed = install(e, true);
            // the cache may already hold a newer bare row (a refresh overtook this read): then decide on
            // what was read, at its own version, and let the claim's version check sort it out
            out.put(h.hostId(), installed.snapshot() != null ? installed : e);
        }
        return out;
    }

    /**
     * Puts what was read from the database into the cache unless the cache is newer: a higher version
     * wins; at the same version a full read replaces, and a bare row replaces only if the host's
     * state, mode or counters differ from what the cache holds (then its snapshot is re-read on use).
     */
    private Entry install(Entry e, boolean regroupNew) {
        UUID id = e.row().id();
        Slot s = slots.get(id);
        if (s == null) {
            s = slots.putIfAbsent(id, new Slot(e));
            if (s == null) {
                if (regroupNew) {
                    regroup();
                }
                return e;
            }
        }
        boolean moved;
        Entry result;
        synchronized (s) {
            Entry cur = s.entry;
            long have = cur.row().allocVersion();
            long got = e.row().allocVersion();
            boolean replace = got > have
                    || (got == have && (e.snapshot() != null || !cur.row().sameShape(e.row())));
            if (!replace) {
                return cur;
            }
            moved = !java.util.Objects.equals(cur.row().gpuModel(), e.row().gpuModel());
            s.set(e);
            result = e;
        }
        if (moved) {
            regroup();
        }
        return result;
    }

    /** Forget a host's snapshot (a claim failed in a way the version did not predict); its row stays for ranking. */
    void invalidate(UUID hostId) {
        Slot s = slots.get(hostId);
        if (s != null) {
            synchronized (s) {
                s.set(new Entry(s.entry.row(), null));
            }
        }
    }

    // ---------------------------------------------------------------- our own changes

    /** A claim or release of ours on this host is about to commit; {@link #ownChangeEnded} follows without fail. */
    void ownChangeStarted(UUID hostId) {
        Slot s = slots.get(hostId);
        if (s != null) {
            s.ownChanges.incrementAndGet();
        }
    }

    void ownChangeEnded(UUID hostId) {
        Slot s = slots.get(hostId);
        if (s != null) {
            s.ownChanges.updateAndGet(n -> Math.max(0, n - 1));
        }
    }

    /** The host this instance placed the VM on, if it did and has not released it; else null. */
    UUID hostOfOwnClaim(UUID vmId) {
        OwnClaim own = ownClaims.get(vmId);
        return own == null ? null : own.hostId();
    }

    /**
     * After the database said the host moved past {@code version}: if a change of ours on it is in
     * flight, waits up to {@code maxNanos} for it to be applied (it has most likely committed and
     * is a few microseconds from being applied). True if the cache then holds a newer snapshot.
     */
    boolean awaitOwnChange(UUID hostId, long version, long maxNanos) {
        Slot s = slots.get(hostId);
        if (s == null) {
            return false;
        }
        long deadline = System.nanoTime() + maxNanos;
        while (true) {
            Entry e = s.entry;
            if (e.row().allocVersion() > version) {
                return e.snapshot() != null;
            }
            if (s.ownChanges.get() == 0 || System.nanoTime() - deadline >= 0) {
                return false;
            }
            LockSupport.parkNanos(50_000);
        }
    }

    /** Our claim moved the host from {@code before} to {@code after}: apply exactly what it took. */
    void claimed(UUID vmId, Placement p, long memoryMiB, long before, long after) {
        ownClaims.put(vmId, new OwnClaim(p.hostId(), p, memoryMiB));
        apply(p.hostId(), p, memoryMiB, before, after, true);
    }

    /** Our release moved the host from {@code before} to {@code after}. */
    void released(UUID vmId, UUID hostId, long before, long after) {
        OwnClaim own = ownClaims.remove(vmId);
        if (own == null || !own.hostId().equals(hostId)) {
            bumpUnknown(hostId, after);
            return;
        }
        apply(hostId, own.placement(), own.memoryMiB(), before, after, false);
    }

    void forget(UUID vmId) {
        ownClaims.remove(vmId);
    }

    /**
     * Drops our record of claims whose VM is not placed any more: released by another instance, or
     * never committed. Without this the records of such VMs would pile up for the life of the
     * process. A record dropped too early costs nothing but a re-read of its host on release.
     */
    int pruneOwnClaims() {
        if (ownClaims.isEmpty()) {
            return 0;
        }
        List<UUID> ids = new java.util.ArrayList<>(ownClaims.keySet());
        int pruned = 0;
        for (int from = 0; from < ids.size(); from += 1000) {
            UUID[] chunk = ids.subList(from, Math.min(ids.size(), from + 1000)).toArray(UUID[]::new);
            List<UUID> gone = jdbc.sql("""
                    SELECT v FROM unnest(?::uuid[]) AS v WHERE NOT EXISTS (SELECT 1 FROM vm WHERE vm.id = v AND vm.host_id IS NOT NULL)
                    """).param(chunk).query(UUID.class).list();
            gone.forEach(ownClaims::remove);
            pruned += gone.size();
        }
        return pruned;
    }

    boolean remembersClaim(UUID vmId) {
        return ownClaims.containsKey(vmId);
    }

    private void apply(UUID hostId, Placement p, long memoryMiB, long before, long after, boolean take) {
        Slot s = slots.get(hostId);
        if (s == null) {
            return;
        }
        synchronized (s) {
            Entry cur = s.entry;
            if (cur.row().allocVersion() >= after) {
                return; // already read from the database at or after this change
            }
            HostSnapshot snap = cur.snapshot();
            HostSnapshot next = null;
            if (snap != null && cur.row().allocVersion() == before) {
                next = take ? taken(snap, p) : given(snap, p, cur.row().topology());
            }
            int sign = take ? 1 : -1;
            int pages = p.hugepagesByNode().values().stream().mapToInt(Integer::intValue).sum();
            HostRow row = cur.row().allocVersion() == before
                    ? cur.row().withUsage(after, sign * p.gpuDeviceIds().size(), sign * p.cpuIds().size(),
                            sign * memoryMiB, sign * pages)
                    // something we did not see happened in between: keep the counters for ranking, re-read on use
                    : cur.row();
            s.set(new Entry(row, next));
        }
    }

    private void bumpUnknown(UUID hostId, long after) {
        Slot s = slots.get(hostId);
        if (s != null) {
            synchronized (s) {
                if (s.entry.row().allocVersion() < after) {
                    s.set(new Entry(s.entry.row(), null));
                    announced.offer(hostId); // re-read its counters soon
                }
            }
        }
    }

    private static HostSnapshot taken(HostSnapshot h, Placement p) {
        Set<Long> gpus = new HashSet<>(p.gpuDeviceIds());
        List<GpuSnapshot> g = new ArrayList<>(h.gpus().size());
        for (GpuSnapshot x : h.gpus()) {
            g.add(gpus.contains(x.deviceId()) ? new GpuSnapshot(x.deviceId(), x.bdf(), x.moduleId(), x.numaNode(),
                    x.iommuGroup(), x.healthy(), true) : x);
        }
        Set<Integer> cpus = new HashSet<>(p.cpuIds());
        List<NumaSnapshot> nodes = new ArrayList<>(h.numaNodes().size());
        for (NumaSnapshot n : h.numaNodes()) {
            List<NumaSnapshot.FreeCpu> free = new ArrayList<>(n.freeCpus().size());
            for (NumaSnapshot.FreeCpu c : n.freeCpus()) {
                if (!cpus.contains(c.cpuId())) {
                    free.add(c);
                }
            }
            nodes.add(new NumaSnapshot(n.nodeId(), free,
                    n.freeHugepages1g() - p.hugepagesByNode().getOrDefault(n.nodeId(), 0)));
        }
        return new HostSnapshot(h.hostId(), h.name(), h.location(), h.state(), h.platform(), h.gpuModel(),
                h.fabricMode(), h.virtualizationMode(), h.passthroughCapable(), g, partitions(h, p, true), nodes,
                List.of(), h.bootImages());
    }

    private HostSnapshot given(HostSnapshot h, Placement p, Instant topology) {
        Map<Integer, List<NumaSnapshot.FreeCpu>> layout = loader.topology(h.hostId(), topology);
        if (layout == null) {
            return null;
        }
        Set<Long> gpus = new HashSet<>(p.gpuDeviceIds());
        List<GpuSnapshot> g = new ArrayList<>(h.gpus().size());
        for (GpuSnapshot x : h.gpus()) {
            g.add(gpus.contains(x.deviceId()) ? new GpuSnapshot(x.deviceId(), x.bdf(), x.moduleId(), x.numaNode(),
                    x.iommuGroup(), x.healthy(), false) : x);
        }
        Set<Integer> back = new HashSet<>(p.cpuIds());
        List<NumaSnapshot> nodes = new ArrayList<>(h.numaNodes().size());
        for (NumaSnapshot n : h.numaNodes()) {
            Set<Integer> free = new HashSet<>(back);
            for (NumaSnapshot.FreeCpu c : n.freeCpus()) {
                free.add(c.cpuId());
            }
            List<NumaSnapshot.FreeCpu> list = new ArrayList<>();
            for (NumaSnapshot.FreeCpu c : layout.getOrDefault(n.nodeId(), List.of())) {
                if (free.contains(c.cpuId())) {
                    list.add(c);
                }
            }
            nodes.add(new NumaSnapshot(n.nodeId(), list,
                    n.freeHugepages1g() + p.hugepagesByNode().getOrDefault(n.nodeId(), 0)));
        }
        return new HostSnapshot(h.hostId(), h.name(), h.location(), h.state(), h.platform(), h.gpuModel(),
                h.fabricMode(), h.virtualizationMode(), h.passthroughCapable(), g, partitions(h, p, false), nodes,
                List.of(), h.bootImages());
    }

    private static List<PartitionSnapshot> partitions(HostSnapshot h, Placement p, boolean allocated) {
        if (p.partitionRowId() == null) {
            return h.partitions();
        }
        List<PartitionSnapshot> out = new ArrayList<>(h.partitions().size());
        for (PartitionSnapshot x : h.partitions()) {
            out.add(x.rowId() == p.partitionRowId()
                    ? new PartitionSnapshot(x.rowId(), x.partitionId(), x.moduleIds(), x.available(), allocated) : x);
        }
        return out;
    }

    // ---------------------------------------------------------------- refresh from the database

    private void ensureLoaded() {
        if (!loaded) {
            refreshAll(generation());
        }
    }

    /** Full refreshes begun so far; pass it to {@link #refreshAll(long)} to avoid refreshing twice. */
    long generation() {
        return refreshesBegun.get();
    }

    /**
     * Re-reads every host row (one query) unless a full refresh begun after {@code seenGeneration} completed:
     * new hosts appear, vanished hosts go, hosts whose state, mode or topology changed lose their
     * snapshot, and hosts allocated on by someone else are read again whole.
     *
     * <p>A host whose version moved while this instance has a claim or release on it in flight is
     * left alone: that change is most likely our own, committed a moment before its delta is applied.
     * Dropping the snapshot there made the next placement on that host (best fit picks exactly the
     * hosts that just changed) read it from the database first, which was most of the slowest
     * percent of placements. If the change was someone else's after all, the claim's version check
     * refuses and the claim re-reads the host.
     */
    void refreshAll(long seenGeneration) {
        List<UUID> changedElsewhere = new ArrayList<>();
        synchronized (refreshLock) {
            // Enough only if a refresh that began after the caller looked has completed: one that began
            // before may have read the rows before a change the caller has seen committed (a new host).
            if (loaded && newestCompletedRefresh > seenGeneration) {
                return;
            }
            long number = refreshesBegun.incrementAndGet();
            List<HostRow> rows = jdbc.sql("SELECT " + ROW_COLUMNS + " FROM host").query((rs, n) -> row(rs)).list();
            Set<UUID> present = new HashSet<>();
            boolean added = false;
            for (HostRow r : rows) {
                present.add(r.id());
                Slot s = slots.get(r.id());
                if (s == null) {
                    added = true;
                } else if (r.sameExceptAllocations(s.entry.row()) && keptAfterMove(s, r.allocVersion(), changedElsewhere)) {
                    continue;
                }
                install(new Entry(r, null), false);
            }
            if (slots.keySet().retainAll(present) || added) {
                regroup();
            }
            loaded = true;
            newestCompletedRefresh = number;
        }
        if (!changedElsewhere.isEmpty()) {
            load(changedElsewhere, "elsewhere");
        }
    }

    /**
     * The poll between full refreshes: reads every host's id and allocation version only (two
     * columns instead of seventeen, and nothing to install for hosts that did not move), then reads
     * whole the hosts someone else allocated on. Hosts it does not know, or hosts that vanished,
     * make it a full refresh.
     */
    void pollVersions() {
        if (!loaded) {
            refreshAll(generation());
            return;
        }
        record Version(UUID id, long version) {
        }
        List<Version> versions = jdbc.sql("SELECT id, alloc_version FROM host")
                .query((rs, n) -> new Version(rs.getObject(1, UUID.class), rs.getLong(2))).list();
        if (versions.size() != slots.size()) {
            refreshAll(generation()); // hosts added or gone
            return;
        }
        List<UUID> changedElsewhere = new ArrayList<>();
        List<UUID> coldAndMoved = new ArrayList<>();
        for (Version v : versions) {
            Slot s = slots.get(v.id());
            if (s == null) {
                refreshAll(generation());
                return;
            }
            if (v.version() > s.entry.row().allocVersion() && !keptAfterMove(s, v.version(), changedElsewhere)) {
                coldAndMoved.add(v.id()); // counters for ranking now; its snapshot is read when it is next a candidate
            }
        }
        refresh(coldAndMoved);
        if (!changedElsewhere.isEmpty()) {
            load(changedElsewhere, "elsewhere");
        }
    }

    /**
     * A host the database shows at {@code version}: if that is past the cache's entry and the entry has
     * a snapshot, keeps the snapshot and returns true. The move is most likely our own change in flight,
     * a moment from being applied; with nothing of ours in flight it was someone else's, and the host
     * is added to {@code rereads} to be read whole.
     */
    private static boolean keptAfterMove(Slot s, long version, List<UUID> rereads) {
        Entry cur = s.entry;
        if (cur.snapshot() == null || version <= cur.row().allocVersion()) {
            return false;
        }
        if (s.ownChanges.get() == 0) {
            rereads.add(cur.row().id());
        }
        return true;
    }

    /** Re-reads these host rows; a changed host loses its snapshot (re-read when next a candidate). */
    void refresh(Collection<UUID> hostIds) {
        if (hostIds.isEmpty()) {
            return;
        }
        List<HostRow> rows = jdbc.sql("SELECT " + ROW_COLUMNS + " FROM host WHERE id = ANY(?)")
                .param(hostIds.toArray(UUID[]::new)).query((rs, n) -> row(rs)).list();
        Set<UUID> present = new HashSet<>();
        boolean regroupNeeded = false;
        for (HostRow r : rows) {
            present.add(r.id());
            Slot s = slots.get(r.id());
            if (s == null) {
                install(new Entry(r, null), false);
                regroupNeeded = true;
            } else {
                synchronized (s) {
                    // announced: state, mode, topology or GPU health changed; re-read the snapshot too
                    if (r.allocVersion() >= s.entry.row().allocVersion()) {
                        regroupNeeded |= !java.util.Objects.equals(s.entry.row().gpuModel(), r.gpuModel());
                        s.set(new Entry(r, null));
                    }
                }
            }
        }
        for (UUID id : hostIds) {
            if (!present.contains(id) && slots.remove(id) != null) {
                regroupNeeded = true;
            }
        }
        if (regroupNeeded) {
            regroup();
        }
    }

    private synchronized void regroup() {
        Map<String, List<Slot>> grouped = new HashMap<>();
        List<Slot> everything = new ArrayList<>(slots.size());
        for (Slot s : slots.values()) {
            everything.add(s);
            String model = s.entry.row().gpuModel();
            grouped.computeIfAbsent(model == null ? "" : model, k -> new ArrayList<>()).add(s);
        }
        Map<String, Group> next = new HashMap<>();
        grouped.forEach((model, members) -> {
            Group g = new Group(members.toArray(Slot[]::new), locations, nextLocation);
            for (int i = 0; i < g.slots.length; i++) {
                Slot s = g.slots[i];
                synchronized (s) {
                    g.publish(i, s.entry.row());
                    s.group = g;
                    s.index = i;
                }
            }
            next.put(model, g);
        });
        all = everything.toArray(Slot[]::new);
        byModel = next;
    }

    /**
     * Loads the snapshots of up to {@code batch} hosts that have none (never a candidate yet, or
     * changed elsewhere), so that placements find them in memory. Returns how many it loaded.
     */
    int warm(int batch) {
        ensureLoaded();
        List<UUID> cold = new ArrayList<>(batch);
        for (Slot s : all) {
            if (s.entry.snapshot() == null) {
                cold.add(s.entry.row().id());
                if (cold.size() == batch) {
                    break;
                }
            }
        }
        if (cold.isEmpty()) {
            return 0;
        }
        int warmed = 0;
        load(cold, "warm");
        for (UUID id : cold) {
            Slot s = slots.get(id);
            if (s != null && s.entry.snapshot() != null) {
                warmed++;
            }
        }
        return warmed; // 0 if none could be loaded (e.g. deleted meanwhile): the caller stops, the poll cleans up
    }

    // ---------------------------------------------------------------- lifecycle

    @Override
    public void start() {
        if (running.compareAndSet(false, true)) {
            notifications.subscribe(CHANNEL, payload -> {
                try {
                    announced.offer(UUID.fromString(payload));
                } catch (IllegalArgumentException ignored) {
                    // not a host id: nothing to refresh
                }
            });
            refresher = new Thread(this::refreshLoop, "placement-fleet-cache");
            refresher.setDaemon(true);
            refresher.start();
        }
    }

    private void refreshLoop() {
        long polls = 0;
        long nextFull = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(refreshMillis);
        long nextPrune = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        while (running.get()) {
            try {
                long waitNanos = Math.max(0, nextFull - System.nanoTime());
                // keep every host's snapshot in memory: load cold ones between other work
                boolean warming = loaded && warm(WARM_BATCH) > 0;
                UUID first = warming ? announced.poll() : announced.poll(waitNanos, TimeUnit.NANOSECONDS);
                if (!running.get()) {
                    return;
                }
                if (first != null) {
                    Thread.sleep(5); // let a burst of announcements gather into one query
                    Set<UUID> batch = new HashSet<>();
                    batch.add(first);
                    announced.drainTo(batch);
                    if (loaded) {
                        refresh(batch);
                    }
                }
                if (System.nanoTime() - nextFull >= 0) {
                    if (loaded && ++polls % FULL_REFRESH_EVERY_POLLS == 0) {
                        refreshAll(generation());
                    } else if (loaded) {
                        pollVersions();
                    }
                    if (System.nanoTime() - nextPrune >= 0) {
                        pruneOwnClaims();
                        nextPrune = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
                    }
                    nextFull = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(refreshMillis);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                if (running.get()) {
                    log.warn("placement fleet cache refresh failed (claims stay safe; retrying): {}", e.toString());
                    try {
                        Thread.sleep(500);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
            }
        }
    }

    @Override
    public void stop() {
        running.set(false);
        if (refresher != null) {
            refresher.interrupt();
            try {
                refresher.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public boolean isRunning() {
        return running.get();
    }

    @Override
    public int getPhase() {
        return Integer.MAX_VALUE - 300;
    }
}
