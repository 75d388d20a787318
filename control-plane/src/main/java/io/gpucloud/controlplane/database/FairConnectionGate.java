package io.gpucloud.controlplane.database;

import com.zaxxer.hikari.HikariDataSource;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.springframework.jdbc.datasource.DelegatingDataSource;

/**
 * A first-come-first-served queue in front of the connection pool, one permit per pooled connection.
 * HikariCP hands a returned connection to a waiting thread by spinning ({@code Thread.yield}) until
 * one takes it; with many more threads than connections (64 placement clients on 8 connections) that
 * spinning and the wake-ups it causes cost a large share of the CPU. Behind this gate the pool never
 * has waiters: threads wait here, parked, and each returned connection wakes exactly the next one.
 * It waits as long as the pool would ({@code connectionTimeout}) and then fails the same way.
 */
final class FairConnectionGate extends DelegatingDataSource implements AutoCloseable {

    private final HikariDataSource pool;
    private final Semaphore permits;
    private final long timeoutMillis;

    FairConnectionGate(HikariDataSource pool) {
        super(pool);
        this.pool = pool;
        this.permits = new Semaphore(pool.getMaximumPoolSize(), true);
        this.timeoutMillis = pool.getConnectionTimeout();
    }

    @Override
    public Connection getConnection() throws SQLException {
        try {
            if (!permits.tryAcquire(timeoutMillis, TimeUnit.MILLISECONDS)) {
                throw new SQLTransientConnectionException(
                        "no database connection free within " + timeoutMillis + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLTransientConnectionException("interrupted while waiting for a database connection", e);
        }
        try {
            return released(super.getConnection());
        } catch (SQLException | RuntimeException | Error e) {
            permits.release();
            throw e;
        }
    }

    @Override
    public Connection getConnection(String username, String password) throws SQLException {
        throw new SQLException("per-call credentials are not supported; the pool has its own");
    }

    /** The connection, whose first close also hands the permit back. */
    private Connection released(Connection target) {
        AtomicBoolean closed = new AtomicBoolean();
        return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("close") && method.getParameterCount() == 0) {
                        try {
                            target.close();
                        } finally {
                            if (closed.compareAndSet(false, true)) {
                                permits.release();
                            }
                        }
                        return null;
                    }
                    if (method.getName().equals("isClosed") && method.getParameterCount() == 0 && closed.get()) {
                        return true;
                    }
                    try {
                        return method.invoke(target, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    /** Spring closes the bean it holds, which is this one: the pool closes with it. */
    @Override
    public void close() {
        pool.close();
    }
}
