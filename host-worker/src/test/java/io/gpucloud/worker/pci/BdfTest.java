package io.gpucloud.worker.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class BdfTest {

    @Test
    void toolsEightDigitDomainsBecomeTheKernelsFourDigitForm() {
        assertThat(Bdf.normalize("00000000:18:00.0")).isEqualTo("0000:18:00.0");
        assertThat(Bdf.normalize("00000001:DB:00.0")).isEqualTo("0001:db:00.0");
        assertThat(Bdf.normalize("18:00.0")).isEqualTo("0000:18:00.0");
    }

    @Test
    void vmdDomainsWiderThanFourDigitsAreKept() {
        assertThat(Bdf.normalize("00010000:e1:00.0")).isEqualTo("10000:e1:00.0");
    }

    @Test
    void nvidiaFormatRoundTrips() {
        assertThat(Bdf.toNvidiaFormat("0001:db:00.0")).isEqualTo("00000001:DB:00.0");
        assertThat(Bdf.normalize(Bdf.toNvidiaFormat("0001:db:00.0"))).isEqualTo("0001:db:00.0");
    }

    @Test
    void rejectsWhatIsNoAddress() {
        assertThat(Bdf.parse("pci0000:00")).isEmpty();
        assertThat(Bdf.parse("0000:18:00.8")).isEmpty();
        assertThatThrownBy(() -> Bdf.normalize("")).isInstanceOf(IllegalArgumentException.class);
    }
}
