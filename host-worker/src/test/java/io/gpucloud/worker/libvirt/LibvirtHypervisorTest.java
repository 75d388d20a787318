package io.gpucloud.worker.libvirt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpucloud.protocol.HostTopology;
import io.gpucloud.protocol.job.DomainSpec;
import io.gpucloud.worker.sim.SimulatedHost;
import io.gpucloud.worker.sim.SimulatedHostSpec;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Real libvirt-java calls against libvirt's built-in test driver. */
class LibvirtHypervisorTest {

    private static SimulatedHost host;
    private static HostTopology topo;

    @BeforeAll
    static void host() {
        host = SimulatedHost.inTempDirectory(SimulatedHostSpec.hgxH100("libvirt"));
        topo = host.discover();
    }

    @AfterAll
    static void close() {
        host.close();
    }

    private static String domainXml(UUID id, String name) throws InvalidDomainSpecException {
        DomainSpec spec = DomainSpecs.forGpus(topo, id, name, List.of("0000:18:00.0"), 2, 8192, null, null);
        return new DomainXmlBuilder().render(spec).xml();
    }

    @Test
    void domainLifecycle() throws Exception {
        UUID id = UUID.randomUUID();
        try (LibvirtHypervisor libvirt = LibvirtHypervisor.open(LibvirtHypervisor.TEST)) {
            assertThat(libvirt.state(id)).isEqualTo(DomainState.NOT_DEFINED);

            DomainStatus defined = libvirt.define(domainXml(id, "life"));
            assertThat(defined.uuid()).isEqualTo(id);
            assertThat(defined.name()).isEqualTo("life");
            assertThat(defined.state()).isEqualTo(DomainState.SHUT_OFF);
            assertThat(defined.persistent()).isTrue();
            assertThat(defined.hostDevices()).containsExactly("0000:18:00.0", "0000:19:00.0");

            libvirt.start(id);
            assertThat(libvirt.state(id)).isEqualTo(DomainState.RUNNING);
            assertThat(libvirt.listDomains()).extracting(DomainStatus::name).contains("life", "test");
            assertThatThrownBy(() -> libvirt.start(id)).isInstanceOf(HypervisorException.class)
                    .hasMessageContaining("already running");

            libvirt.shutdown(id);
            assertThat(libvirt.state(id)).isEqualTo(DomainState.SHUT_OFF);
            libvirt.start(id);
            libvirt.destroy(id);
            assertThat(libvirt.state(id)).isEqualTo(DomainState.SHUT_OFF);

            libvirt.undefine(id);
            assertThat(libvirt.find(id)).isEmpty();
            assertThat(libvirt.listDomains()).extracting(DomainStatus::uuid).doesNotContain(id);
        }
    }

    @Test
    void definingTheSameDomainAgainUpdatesIt() throws Exception {
        UUID id = UUID.randomUUID();
        try (LibvirtHypervisor libvirt = LibvirtHypervisor.open(LibvirtHypervisor.TEST)) {
            libvirt.define(domainXml(id, "again"));
            DomainStatus second = libvirt.define(domainXml(id, "again"));
            assertThat(second.uuid()).isEqualTo(id);
            assertThat(libvirt.listDomains()).filteredOn(d -> d.name().equals("again")).hasSize(1);
            libvirt.undefine(id);
        }
    }

    @Test
    void libvirtRefusalsCarryLibvirtsMessageAndCode() throws Exception {
        try (LibvirtHypervisor libvirt = LibvirtHypervisor.open(LibvirtHypervisor.TEST)) {
            assertThatThrownBy(() -> libvirt.define(domainXml(UUID.randomUUID(), "bad/name")))
                    .isInstanceOfSatisfying(HypervisorException.class,
                            e -> assertThat(e.code()).isEqualTo("VIR_ERR_XML_ERROR"))
                    .hasMessageContaining("cannot contain '/'");

            UUID first = UUID.randomUUID();
            libvirt.define(domainXml(first, "taken"));
            assertThatThrownBy(() -> libvirt.define(domainXml(UUID.randomUUID(), "taken")))
                    .isInstanceOf(HypervisorException.class).hasMessageContaining("already exists");
            libvirt.undefine(first);

            assertThatThrownBy(() -> libvirt.start(UUID.randomUUID()))
                    .isInstanceOfSatisfying(HypervisorException.class,
                            e -> assertThat(e.code()).isEqualTo("VIR_ERR_NO_DOMAIN"));
        }
    }

    @Test
    void testDriverDomainsLiveAsLongAsSomeConnectionInThisProcess() throws Exception {
        UUID id = UUID.randomUUID();
        try (LibvirtHypervisor first = LibvirtHypervisor.open(LibvirtHypervisor.TEST)) {
            first.define(domainXml(id, "shared"));
            try (LibvirtHypervisor second = LibvirtHypervisor.open(LibvirtHypervisor.TEST)) {
                assertThat(second.find(id)).as("connections of one process share the test driver").isPresent();
            }
            assertThat(first.find(id)).isPresent();
        }
        try (LibvirtHypervisor fresh = LibvirtHypervisor.open(LibvirtHypervisor.TEST)) {
            assertThat(fresh.find(id)).as("the last connection closed: the test driver starts over").isEmpty();
            assertThat(fresh.listDomains()).extracting(DomainStatus::name).containsExactly("test");
        }
    }

    @Test
    void aPrivateTestDriverIsSeenByItsOwnConnectionOnly(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        UUID id = UUID.randomUUID();
        try (LibvirtHypervisor mine = LibvirtHypervisor.openPrivateTestDriver(dir);
             LibvirtHypervisor other = LibvirtHypervisor.openPrivateTestDriver(dir);
             LibvirtHypervisor shared = LibvirtHypervisor.open(LibvirtHypervisor.TEST)) {
            assertThat(mine.listDomains()).as("starts empty, without the default driver's \"test\" domain").isEmpty();
            mine.define(domainXml(id, "private"));
            assertThat(mine.find(id)).isPresent();
            assertThat(other.find(id)).isEmpty();
            assertThat(shared.find(id)).isEmpty();
        }
    }

    @Test
    void hostDevicesAreReadFromLibvirtsXml() {
        String xml = """
                <domain type='kvm'><devices>
                  <hostdev mode='subsystem' type='pci' managed='yes'>
                    <source><address domain='0x0001' bus='0x9A' slot='0x00' function='0x1'/></source>
                  </hostdev>
                  <hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/></source></hostdev>
                </devices></domain>""";
        assertThat(LibvirtHypervisor.hostDevices(xml)).containsExactly("0001:9a:00.1");
    }
}
