package io.gpucloud.controlplane.web;

import jakarta.servlet.http.HttpServletRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.method.annotation.MethodArgumentTypeMismatchException;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;
import tools.jackson.core.JacksonException;
import tools.jackson.core.exc.StreamReadException;
import tools.jackson.databind.DatabindException;
import tools.jackson.databind.exc.UnrecognizedPropertyException;

/**
 * Every error leaves as problem+json. Framework errors keep Spring's status; ours carry a stable
 * type; anything unexpected is a 500 without internals (the stack trace goes to the log only).
 */
@RestControllerAdvice
public class ProblemHandler extends ResponseEntityExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(ProblemHandler.class);

    @ExceptionHandler(ApiException.class)
    ResponseEntity<ProblemDetail> api(ApiException e) {
        ProblemDetail problem = Problems.of(e.status(), e.type(), e.title(), e.getMessage());
        e.properties().forEach(problem::setProperty);
        return ResponseEntity.status(e.status()).body(problem);
    }

    @ExceptionHandler(MethodArgumentTypeMismatchException.class)
    ResponseEntity<ProblemDetail> typeMismatch(MethodArgumentTypeMismatchException e) {
        ProblemDetail problem = Problems.of(HttpStatus.BAD_REQUEST, "invalid-request", "Invalid request",
                "Parameter '" + e.getName() + "' has an invalid value.");
        problem.setProperty("field", e.getName());
        return ResponseEntity.badRequest().body(problem);
    }

    @Override
    protected ResponseEntity<Object> handleHttpMessageNotReadable(HttpMessageNotReadableException ex,
            HttpHeaders headers, HttpStatusCode status, WebRequest request) {
        ProblemDetail problem = unreadable(ex);
        return ResponseEntity.status(problem.getStatus()).body(problem);
    }

    /** Says which field of the body is wrong when Jackson knows it, and why in the caller's terms. */
    private static ProblemDetail unreadable(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof BodyLimitFilter.BodyTooLargeException) {
                return Problems.of(HttpStatus.CONTENT_TOO_LARGE, "body-too-large", "Request body too large",
                        "Request bodies are limited to " + BodyLimitFilter.LIMIT + " bytes.");
            }
        }
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof UnrecognizedPropertyException u) {
                ProblemDetail problem = Problems.of(HttpStatus.BAD_REQUEST, "unknown-field", "Unknown field",
                        "Field '" + path(u) + "' is not part of this request.");
                problem.setProperty("field", path(u));
                return problem;
            }
            if (t instanceof StreamReadException) {
                break; // not JSON at all: no field to point at
            }
            if (t instanceof DatabindException d && !d.getPath().isEmpty()) {
                ProblemDetail problem = Problems.of(HttpStatus.BAD_REQUEST, "invalid-field-type", "Invalid field type",
                        "Field '" + path(d) + "' has the wrong type or format.");
                problem.setProperty("field", path(d));
                return problem;
            }
        }
        return Problems.of(HttpStatus.BAD_REQUEST, "malformed-body", "Malformed request body",
                "The request body is not valid JSON of the expected shape.");
    }

    /** {@code sshPublicKeys[2]}, {@code topology.hostName}: the JSON path of the offending value. */
    private static String path(JacksonException e) {
        StringBuilder sb = new StringBuilder();
        for (JacksonException.Reference ref : e.getPath()) {
            if (ref.getPropertyName() != null) {
                sb.append(sb.isEmpty() ? "" : ".").append(ref.getPropertyName());
            } else if (ref.getIndex() >= 0) {
                sb.append('[').append(ref.getIndex()).append(']');
            }
        }
        return sb.toString();
    }

    @ExceptionHandler(Exception.class)
    ResponseEntity<ProblemDetail> unexpected(Exception e, HttpServletRequest request) {
        log.error("Unhandled error on {} {}", request.getMethod(), request.getRequestURI(), e);
        ProblemDetail problem = Problems.of(HttpStatus.INTERNAL_SERVER_ERROR, "internal-error",
                "Internal error", "The control plane failed to handle this request; the error is logged.");
        return ResponseEntity.internalServerError().body(problem);
    }
}
