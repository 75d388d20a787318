package io.gpucloud.worker.command;

/**
 * What a command-line tool did: its exit status and both output streams, exactly as printed.
 * Real tools and their simulators both answer with this, so one parser serves both.
 */
public record CommandResult(int exitCode, String stdout, String stderr) {

    /** Exit status used when the program could not be started at all (as a shell reports it). */
    public static final int NOT_FOUND = 127;
    /** Exit status used when the program ran past its time limit (as coreutils' timeout reports it). */
    public static final int TIMED_OUT = 124;

    public CommandResult {
        stdout = stdout == null ? "" : stdout;
        stderr = stderr == null ? "" : stderr;
    }

    public boolean ok() {
        return exitCode == 0;
    }

    /** The first non-blank line of stderr, else of stdout: what a tool says when it fails. */
    public String message() {
        for (String stream : new String[] {stderr, stdout}) {
            for (String line : stream.split("\n")) {
                if (!line.isBlank()) {
                    return line.trim();
                }
            }
        }
        return "exit status " + exitCode;
    }
}
