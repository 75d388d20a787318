package io.gpucloud.worker.libvirt;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.worker.command.CommandResult;
import io.gpucloud.worker.command.ExternalCommand;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** libvirt's own schema check ({@code virt-xml-validate FILE domain}, Debian package libvirt-clients). */
public final class VirtXmlValidate {

    private static final ExternalCommand VALIDATE = new ExternalCommand("virt-xml-validate", Duration.ofSeconds(30));

    private VirtXmlValidate() {
    }

    /** Fails the test unless libvirt's domain schema accepts the XML. */
    public static void assertValidDomain(String xml, Path dir) throws IOException {
        Path file = Files.createTempFile(dir, "domain-", ".xml");
        Files.writeString(file, xml);
        CommandResult r = VALIDATE.run(file.toString(), "domain");
        assertThat(r.exitCode())
                .as("virt-xml-validate must be installed (libvirt-clients, libxml2-utils) and accept the domain:%n%s%n%s",
                        r.stdout() + r.stderr(), xml)
                .isZero();
        assertThat(r.stdout() + r.stderr()).contains("validates");
    }
}
