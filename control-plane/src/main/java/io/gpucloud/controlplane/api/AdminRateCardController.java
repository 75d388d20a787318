package io.gpucloud.controlplane.api;

import io.gpucloud.controlplane.web.ApiException;
import io.gpucloud.controlplane.web.StrictJson;
import java.math.BigDecimal;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.List;
import java.util.regex.Pattern;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.http.HttpStatus;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/**
 * The rate card ({@code reporting.rate_card}) that usage, invoices and the tenant-usage report are
 * priced from. Rates are appended, never edited: a new rate takes effect at {@code effectiveFrom}
 * (now when absent), which may not lie in the past, so a month already (partly) invoiced never
 * changes. A rate for a location wins over the all-locations rate of the same instance type.
 */
@RestController
@RequestMapping("/admin/api/v1/rate-cards")
class AdminRateCardController {

    private static final Pattern LOCATION = Pattern.compile("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$");
    private static final BigDecimal MAX_PRICE = new BigDecimal("100000");

    private final JdbcClient jdbc;
    private final InstanceTypes types;

    AdminRateCardController(JdbcClient jdbc, InstanceTypes types) {
        this.jdbc = jdbc;
        this.types = types;
    }

    @StrictJson.Reject
    record CreateRate(String instanceType, String location, BigDecimal pricePerHour, Instant effectiveFrom) {
    }

    /**
     * @param location       null: every location without a rate of its own
     * @param effectiveFrom  null: since forever (the catalog's first price)
     * @param source         catalog (the instance-type catalog, at startup) or admin (this API)
     */
    record Rate(String instanceType, String location, BigDecimal pricePerHour, String currency, Instant effectiveFrom,
                String source, Instant createdAt) {
    }

    record RateList(List<Rate> items) {
    }

    @GetMapping
    RateList list(@RequestParam(required = false) String instanceType,
            @RequestParam(required = false) String location) {
        return new RateList(jdbc.sql(SELECT + """
                 WHERE (CAST(? AS text) IS NULL OR instance_type = ?)
                   AND (CAST(? AS text) IS NULL OR location = ?)
                 ORDER BY instance_type, location NULLS FIRST, effective_from
                """).params(instanceType, instanceType, location, location)
                .query((rs, n) -> rate(rs)).list());
    }

    @PostMapping
    @ResponseStatus(HttpStatus.CREATED)
    Rate create(@RequestBody CreateRate r) {
        if (r.instanceType() == null || types.find(r.instanceType()).isEmpty()) {
            throw ApiException.badRequest("instanceType",
                    "instanceType must be one of the catalog's types; see GET /api/v1/instance-types.");
        }
        if (r.location() != null && !LOCATION.matcher(r.location()).matches()) {
            throw ApiException.badRequest("location", "location must be 1-63 letters, digits, '.', '_' or '-' "
                    + "(omit it for a rate that applies to every location).");
        }
        if (r.pricePerHour() == null || r.pricePerHour().signum() < 0 || r.pricePerHour().compareTo(MAX_PRICE) > 0) {
            throw ApiException.badRequest("pricePerHour", "pricePerHour is required, between 0 and " + MAX_PRICE + ".");
        }
        if (r.pricePerHour().stripTrailingZeros().scale() > 4) {
            throw ApiException.badRequest("pricePerHour", "pricePerHour has at most 4 decimal places.");
        }
        if (r.effectiveFrom() != null && r.effectiveFrom().isBefore(Instant.now())) {
            throw ApiException.badRequest("effectiveFrom", "effectiveFrom may not lie in the past: rates are not "
                    + "back-dated, so periods already invoiced keep their price. Omit it for 'now'.");
        }
        try {
            return jdbc.sql("""
                    INSERT INTO reporting.rate_card (instance_type, location, price_per_hour, effective_from, source)
                    VALUES (?, ?, ?, coalesce(CAST(? AS timestamptz), now()), 'admin')
                    RETURNING instance_type, location, price_per_hour, effective_from, source, created_at
                    """).params(r.instanceType(), r.location(), r.pricePerHour(),
                            r.effectiveFrom() == null ? null : Timestamp.from(r.effectiveFrom()))
                    .query((rs, n) -> rate(rs)).single();
        } catch (DuplicateKeyException e) {
            throw ApiException.conflict("rate-exists", "A rate for " + r.instanceType() + " in "
                    + (r.location() == null ? "every location" : r.location()) + " taking effect at "
                    + r.effectiveFrom() + " already exists.");
        }
    }

    private static final String SELECT = """
            SELECT instance_type, location, price_per_hour, effective_from, source, created_at FROM reporting.rate_card
            """;

    private static Rate rate(java.sql.ResultSet rs) throws java.sql.SQLException {
        Timestamp from = rs.getTimestamp("effective_from");
        // '-infinity' (the catalog's first price) comes back as a timestamp far in the past
        Instant effective = from == null || "-infinity".equals(rs.getString("effective_from")) ? null : from.toInstant();
        return new Rate(rs.getString("instance_type"), rs.getString("location"), rs.getBigDecimal("price_per_hour"),
                "USD", effective, rs.getString("source"), rs.getTimestamp("created_at").toInstant());
    }
}
