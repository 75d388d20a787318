package io.gpucloud.controlplane.web;

import java.util.Map;
import org.springframework.http.HttpStatus;

/**
 * A failure the caller can act on, rendered as problem+json. Throw the factory methods, not
 * bare runtime exceptions, from request handling code.
 */
public class ApiException extends RuntimeException {

    private final HttpStatus status;
    private final String type;
    private final String title;
    private final Map<String, Object> properties;

    public ApiException(HttpStatus status, String type, String title, String detail, Map<String, Object> properties) {
        super(detail);
        this.status = status;
        this.type = type;
        this.title = title;
        this.properties = Map.copyOf(properties);
    }

    public static ApiException notFound(String what, Object id) {
        return new ApiException(HttpStatus.NOT_FOUND, "not-found", what + " not found",
                "No " + what.toLowerCase() + " with id " + id + " exists.", Map.of());
    }

    public static ApiException badRequest(String field, String detail) {
        return new ApiException(HttpStatus.BAD_REQUEST, "invalid-request", "Invalid request", detail,
                field == null ? Map.of() : Map.of("field", field));
    }

    public static ApiException conflict(String type, String detail) {
        return new ApiException(HttpStatus.CONFLICT, type, "Conflict", detail, Map.of());
    }

    public HttpStatus status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String title() {
        return title;
    }

    public Map<String, Object> properties() {
        return properties;
    }
}
