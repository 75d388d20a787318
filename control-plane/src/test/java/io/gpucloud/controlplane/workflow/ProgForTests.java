package io.gpucloud.controlplane.workflow;

import org.springframework.jdbc.core.simple.JdbcClient;

/** A prog that only tests run: its name, and the database its labels write to. */
abstract class ProgForTests implements Prog {

    protected final JdbcClient jdbc;
    private final String name;

    ProgForTests(String name, JdbcClient jdbc) {
        this.name = name;
        this.jdbc = jdbc;
    }

    @Override
    public final String name() {
        return name;
    }
}
