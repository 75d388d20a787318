package io.gpucloud.controlplane.benchmark;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * Where the machine's CPU went during a benchmark's measured phase: this JVM apart from the
 * benchmark's own threads (the control plane), the embedded PostgreSQL server, the benchmark's own
 * threads (simulated workers, clients, heartbeats), and the rest of the machine. The benchmark runs
 * everything on the same cores, so "machine CPU per VM" alone charges the harness to the product.
 *
 * <p>Linux only ({@code /proc}); elsewhere, or with a database on another machine, the parts it cannot
 * see are left out. Threads that end between two samples are not counted, which the benchmark's
 * long-lived threads never do.
 */
final class CpuSplit {

    /** Clock ticks per second of /proc's times: USER_HZ, 100 on every Linux build we run on. */
    private static final double TICK_NANOS = 1e9 / 100;

    record Sample(long machineNanos, long jvmNanos, long harnessNanos, long postgresNanos) {
    }

    private final Integer postmaster;
    private final Predicate<String> harnessThread;
    private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();

    private CpuSplit(Integer postmaster, Predicate<String> harnessThread) {
        this.postmaster = postmaster;
        this.harnessThread = harnessThread;
    }

    /** Finds the PostgreSQL server behind {@code jdbc} if it runs on this machine. */
    static CpuSplit of(JdbcClient jdbc, Predicate<String> harnessThread) {
        Integer server = null;
        try {
            int backend = jdbc.sql("SELECT pg_backend_pid()").query(Integer.class).single();
            if (isPostgres(backend)) {
                int parent = parentOf(backend);
                server = isPostgres(parent) ? parent : null;
            }
        } catch (RuntimeException | IOException e) {
            server = null; // not Linux, or the server runs elsewhere
        }
        return new CpuSplit(server, harnessThread);
    }

    Sample sample() {
        long harness = 0;
        for (ThreadInfo t : threads.getThreadInfo(threads.getAllThreadIds())) {
            if (t != null && harnessThread.test(t.getThreadName())) {
                long cpu = threads.getThreadCpuTime(t.getThreadId());
                harness += Math.max(0, cpu);
            }
        }
        long jvm = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() : -1;
        return new Sample(machineBusyNanos(), jvm, harness, postgresNanos());
    }

    /** "11.5 ms: control plane 5.2, PostgreSQL 4.1, benchmark harness 1.7, rest of the machine 0.5". */
    String perUnit(Sample a, Sample b, int units) {
        if (a.machineNanos() < 0 || a.jvmNanos() < 0) {
            return "not available on this platform";
        }
        double machine = (b.machineNanos() - a.machineNanos()) / 1e6 / units;
        double harness = (b.harnessNanos() - a.harnessNanos()) / 1e6 / units;
        double controlPlane = (b.jvmNanos() - a.jvmNanos()) / 1e6 / units - harness;
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "%.1f ms: control plane (JVM) %.1f", machine,
                controlPlane));
        double rest = machine - controlPlane - harness;
        if (postmaster != null) {
            double pg = (b.postgresNanos() - a.postgresNanos()) / 1e6 / units;
            out.append(String.format(Locale.ROOT, ", PostgreSQL %.1f", pg));
            rest -= pg;
        }
        return out.append(String.format(Locale.ROOT, ", benchmark harness %.1f, rest of the machine %.1f", harness,
                rest)).toString();
    }

    private static long machineBusyNanos() {
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            long ticks = 0;
            for (int i = 1; i < f.length && i <= 8; i++) {
                if (i != 4 && i != 5) { // idle, iowait
                    ticks += Long.parseLong(f[i]);
                }
            }
            return (long) (ticks * TICK_NANOS);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** The server and its processes (utime + stime), and its children that already ended (cutime + cstime). */
    private long postgresNanos() {
        if (postmaster == null) {
            return 0;
        }
        long ticks = 0;
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(d -> d.getFileName().toString().chars().allMatch(Character::isDigit)).toList()) {
                try {
                    String[] f = statFields(Integer.parseInt(p.getFileName().toString()));
                    int pid = Integer.parseInt(p.getFileName().toString());
                    if (pid == postmaster) {
                        ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13])
                                + Long.parseLong(f[14]);
                    } else if (Integer.parseInt(f[1]) == postmaster) {
                        ticks += Long.parseLong(f[11]) + Long.parseLong(f[12]);
                    }
                } catch (IOException | RuntimeException gone) {
                    // the process ended while we looked
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return (long) (ticks * TICK_NANOS);
    }

    /** Fields of /proc/PID/stat after the command name: [0] is the state, [1] the parent, [11..14] the times. */
    private static String[] statFields(int pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        return stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
    }

    private static int parentOf(int pid) throws IOException {
        return Integer.parseInt(statFields(pid)[1]);
    }

    private static boolean isPostgres(int pid) throws IOException {
        Path comm = Path.of("/proc/" + pid + "/comm");
        return Files.exists(comm) && Files.readString(comm).trim().startsWith("postgres");
    }
}
