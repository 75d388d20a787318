package io.gpucloud.worker.libvirt;

import io.gpucloud.worker.pci.Bdf;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.libvirt.Connect;
import org.libvirt.Domain;
import org.libvirt.DomainInfo;
import org.libvirt.Error;
import org.libvirt.LibvirtException;
import org.libvirt.jna.Libvirt;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;
import org.xml.sax.SAXException;

/**
 * {@link Hypervisor} over libvirt-java (JNA; needs {@code libvirt.so.0}, Debian package {@code libvirt0}).
 * One connection per instance, kept for its lifetime. On {@code qemu:///system} that is just efficient; on
 * libvirt's built-in test driver it decides what exists:
 * <ul>
 *   <li>{@code test:///default} keeps its domains in the process while any connection to it is open: all
 *       connections of one JVM share them, they are gone once the last closes, and another process (virsh)
 *       never sees them. A fresh one holds a running domain named "test".</li>
 *   <li>{@code test:///path/to/node.xml} ({@link #openPrivateTestDriver}) gives each connection a driver of
 *       its own, starting empty: one per simulated host keeps several simulated hosts in one JVM apart.</li>
 * </ul>
 */
public final class LibvirtHypervisor implements Hypervisor {

    public static final String SYSTEM = "qemu:///system";
    public static final String TEST = "test:///default";

    /** VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_NVRAM (libvirt-java 0.5.2 lacks the latter). */
    private static final int UNDEFINE_MANAGED_SAVE = 1;
    private static final int UNDEFINE_NVRAM = 4;

    // libvirt prints every error to stderr unless a callback takes it; the errors reach us as exceptions
    // anyway. A static field keeps the JNA callback from being garbage-collected while libvirt holds it.
    private static final Libvirt.VirErrorCallback QUIET = (userData, error) -> {
    };
    private static volatile boolean quiet;

    private final String uri;
    private final Connect connect;

    private LibvirtHypervisor(String uri, Connect connect) {
        this.uri = uri;
        this.connect = connect;
    }

    public static LibvirtHypervisor open(String uri) throws HypervisorException {
        silenceStderr();
        try {
            return new LibvirtHypervisor(uri, new Connect(uri));
        } catch (LibvirtException e) {
            throw wrap("cannot connect to " + uri, e);
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
            throw new HypervisorException("NO_LIBVIRT", "cannot load libvirt (is libvirt0 installed?): " + e.getMessage(), e);
        }
    }

    /**
     * A test driver private to this connection (empty, isolated from every other connection), described by
     * a node file written to {@code directory}.
     */
    public static LibvirtHypervisor openPrivateTestDriver(Path directory) throws HypervisorException {
        Path node = directory.toAbsolutePath().resolve("libvirt-test-node.xml");
        try {
            Files.createDirectories(node.getParent());
            Files.writeString(node, XmlNode.root("node").render(Map.of()));
        } catch (IOException e) {
            throw new HypervisorException("NO_TEST_DRIVER", "cannot write " + node + ": " + e.getMessage(), e);
        }
        return open("test://" + node);
    }

    @Override
    public String uri() {
        return uri;
    }

    @Override
    public synchronized DomainStatus define(String xml) throws HypervisorException {
        try {
            Domain d = connect.domainDefineXML(xml);
            try {
                return status(d);
            } finally {
                d.free();
            }
        } catch (LibvirtException e) {
            throw wrap("cannot define domain", e);
        }
    }

    @Override
    public synchronized Optional<DomainStatus> find(UUID id) throws HypervisorException {
        Optional<Domain> d = lookup(id);
        if (d.isEmpty()) {
            return Optional.empty();
        }
        try {
            return Optional.of(status(d.get()));
        } catch (LibvirtException e) {
            if (isNoDomain(e)) {
                return Optional.empty(); // went away meanwhile (a transient domain stopped)
            }
            throw wrap("cannot read domain " + id, e);
        } finally {
            free(d.get());
        }
    }

    @Override
    public synchronized void start(UUID id) throws HypervisorException {
        act(id, "start", d -> d.create());
    }

    @Override
    public synchronized void shutdown(UUID id) throws HypervisorException {
        act(id, "shut down", Domain::shutdown);
    }

    @Override
    public synchronized void destroy(UUID id) throws HypervisorException {
        act(id, "destroy", Domain::destroy);
    }

    @Override
    public synchronized void undefine(UUID id) throws HypervisorException {
        act(id, "undefine", d -> {
            try {
                d.undefine(UNDEFINE_MANAGED_SAVE | UNDEFINE_NVRAM);
            } catch (LibvirtException e) {
                if (e.getError().getCode() != Error.ErrorNumber.VIR_ERR_INVALID_ARG) {
                    throw e;
                }
                d.undefine(0); // a driver without UEFI variable stores (the test driver) refuses the flags
            }
        });
    }

    @Override
    public synchronized List<DomainStatus> listDomains() throws HypervisorException {
        try {
            Map<UUID, DomainStatus> all = new LinkedHashMap<>();
            for (int id : connect.listDomains()) {
                collect(all, () -> connect.domainLookupByID(id));
            }
            for (String name : connect.listDefinedDomains()) {
                collect(all, () -> connect.domainLookupByName(name));
            }
            List<DomainStatus> out = new ArrayList<>(all.values());
            out.sort(Comparator.comparing(DomainStatus::name));
            return out;
        } catch (LibvirtException e) {
            throw wrap("cannot list domains", e);
        }
    }

    @Override
    public synchronized void close() {
        try {
            connect.close();
        } catch (LibvirtException ignored) {
            // closing a broken connection: nothing left to release
        }
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    private interface DomainCall {
        void call(Domain d) throws LibvirtException;
    }

    private interface Lookup {
        Domain get() throws LibvirtException;
    }

    private void act(UUID id, String what, DomainCall call) throws HypervisorException {
        Domain d = lookup(id).orElseThrow(() -> new HypervisorException("VIR_ERR_NO_DOMAIN",
                "cannot " + what + " domain " + id + ": no such domain", null));
        try {
            call.call(d);
        } catch (LibvirtException e) {
            throw wrap("cannot " + what + " domain " + id, e);
        } finally {
            free(d);
        }
    }

    private Optional<Domain> lookup(UUID id) throws HypervisorException {
        try {
            return Optional.of(connect.domainLookupByUUID(id));
        } catch (LibvirtException e) {
            if (isNoDomain(e)) {
                return Optional.empty();
            }
            throw wrap("cannot look up domain " + id, e);
        }
    }

    private void collect(Map<UUID, DomainStatus> into, Lookup lookup) throws LibvirtException {
        Domain d;
        try {
            d = lookup.get();
        } catch (LibvirtException e) {
            if (isNoDomain(e)) {
                return; // stopped or undefined between listing and lookup
            }
            throw e;
        }
        try {
            DomainStatus s = status(d);
            into.putIfAbsent(s.uuid(), s);
        } catch (LibvirtException e) {
            if (!isNoDomain(e)) {
                throw e;
            }
        } finally {
            free(d);
        }
    }

    private static DomainStatus status(Domain d) throws LibvirtException {
        DomainInfo info = d.getInfo();
        return new DomainStatus(UUID.fromString(d.getUUIDString()), d.getName(), state(info.state),
                d.isPersistent() == 1, hostDevices(d.getXMLDesc(0)));
    }

    private static DomainState state(DomainInfo.DomainState s) {
        return switch (s) {
            case VIR_DOMAIN_RUNNING -> DomainState.RUNNING;
            case VIR_DOMAIN_BLOCKED -> DomainState.BLOCKED;
            case VIR_DOMAIN_PAUSED -> DomainState.PAUSED;
            case VIR_DOMAIN_SHUTDOWN -> DomainState.SHUTTING_DOWN;
            case VIR_DOMAIN_SHUTOFF -> DomainState.SHUT_OFF;
            case VIR_DOMAIN_CRASHED -> DomainState.CRASHED;
            case VIR_DOMAIN_NOSTATE -> DomainState.NO_STATE;
        };
    }

    /** Source addresses of the PCI hostdevs in a domain's XML. */
    static List<String> hostDevices(String xml) {
        List<String> out = new ArrayList<>();
        Document doc = parse(xml);
        NodeList hostdevs = doc.getElementsByTagName("hostdev");
        for (int i = 0; i < hostdevs.getLength(); i++) {
            Element h = (Element) hostdevs.item(i);
            if (!"pci".equals(h.getAttribute("type"))) {
                continue;
            }
            NodeList sources = h.getElementsByTagName("source");
            if (sources.getLength() == 0) {
                continue;
            }
            NodeList addresses = ((Element) sources.item(0)).getElementsByTagName("address");
            if (addresses.getLength() == 0) {
                continue;
            }
            Element a = (Element) addresses.item(0);
            String bdf = String.format("%s:%s:%s.%s", hex(a.getAttribute("domain"), 4), hex(a.getAttribute("bus"), 2),
                    hex(a.getAttribute("slot"), 2), Integer.decode(a.getAttribute("function")));
            Bdf.parse(bdf).ifPresent(out::add);
        }
        return out;
    }

    private static String hex(String value, int width) {
        return String.format("%0" + width + "x", Integer.decode(value.isEmpty() ? "0" : value));
    }

    private static Document parse(String xml) {
        try {
            DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
            f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
            f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            return f.newDocumentBuilder().parse(new InputSource(new StringReader(xml)));
        } catch (ParserConfigurationException | SAXException | IOException e) {
            throw new IllegalStateException("libvirt returned unreadable domain XML", e);
        }
    }

    private static boolean isNoDomain(LibvirtException e) {
        return e.getError() != null && e.getError().getCode() == Error.ErrorNumber.VIR_ERR_NO_DOMAIN;
    }

    private static HypervisorException wrap(String what, LibvirtException e) {
        String code = e.getError() == null ? "VIR_ERR_UNKNOWN" : e.getError().getCode().name();
        return new HypervisorException(code, what + ": " + e.getMessage(), e);
    }

    private static void free(Domain d) {
        try {
            d.free();
        } catch (LibvirtException ignored) {
            // a failed free leaks one reference on a connection we keep anyway
        }
    }

    private static synchronized void silenceStderr() {
        if (!quiet) {
            try {
                Connect.setErrorCallback(QUIET);
                quiet = true;
            } catch (LibvirtException | UnsatisfiedLinkError | NoClassDefFoundError ignored) {
                // libvirt missing: open() reports it
            }
        }
    }
}
