package io.gpucloud.worker.nvidiasmi;

/**
 * How a driver generation prints the GPU module id in {@code nvidia-smi -q}. The driver versions are
 * what the simulator claims in its header; which release switched spelling is not pinned down exactly,
 * so the parser accepts every spelling whatever the version says.
 */
public enum ModuleIdSpelling {
    /** Older drivers: {@code Module ID : 2} among the board identity lines. */
    MODULE_ID_UPPER_CASE("535.183.06", "12.2", 42),
    /** Later R5xx drivers: {@code Module Id : 2} at the same place. */
    MODULE_ID("550.127.08", "12.4", 42),
    /** Drivers 565 and later: {@code Module Id} inside a {@code Platform Info} block, with wider columns. */
    PLATFORM_INFO("570.172.08", "12.8", 59),
    /**
     * Driver 580 as a real H200 printed it (fixture {@code host-worker/src/test/hosts/h200-firecracker}):
     * {@code Platform Info} as in R565, colons in column 55, {@code GPU Recovery Action} where older drivers
     * print a {@code GPU Reset Status} block, and average and instantaneous power draw.
     */
    R580("580.159.04", "13.0", 55);

    private final String driverVersion;
    private final String cudaVersion;
    private final int colonColumn;

    ModuleIdSpelling(String driverVersion, String cudaVersion, int colonColumn) {
        this.driverVersion = driverVersion;
        this.cudaVersion = cudaVersion;
        this.colonColumn = colonColumn;
    }

    String driverVersion() {
        return driverVersion;
    }

    String cudaVersion() {
        return cudaVersion;
    }

    /** Column of the ':' on every key/value line (keys are padded so all colons line up). */
    int colonColumn() {
        return colonColumn;
    }
}
