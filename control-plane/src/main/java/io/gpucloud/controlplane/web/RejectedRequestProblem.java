package io.gpucloud.controlplane.web;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.security.web.firewall.RequestRejectedException;
import org.springframework.security.web.firewall.RequestRejectedHandler;
import org.springframework.stereotype.Component;
import tools.jackson.databind.json.JsonMapper;

/**
 * Spring Security's firewall refuses URLs with encoded slashes, semicolons, ".." and the like
 * before any controller runs. The caller still gets our error format: a 400 problem+json.
 */
@Component
class RejectedRequestProblem implements RequestRejectedHandler {

    private final JsonMapper json;

    RejectedRequestProblem(JsonMapper json) {
        this.json = json;
    }

    @Override
    public void handle(HttpServletRequest request, HttpServletResponse response, RequestRejectedException e)
            throws IOException {
        Map<String, Object> problem = new LinkedHashMap<>();
        problem.put("type", Problems.TYPE_BASE + "invalid-request");
        problem.put("title", "Invalid request");
        problem.put("status", HttpStatus.BAD_REQUEST.value());
        problem.put("detail", "The URL contains characters that are not allowed here (such as ';', '%2F' or '..').");
        response.setStatus(HttpStatus.BAD_REQUEST.value());
        response.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
        json.writeValue(response.getOutputStream(), problem);
    }
}
