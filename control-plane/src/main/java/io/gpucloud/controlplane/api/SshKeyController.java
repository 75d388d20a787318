package io.gpucloud.controlplane.api;

import io.gpucloud.controlplane.tenancy.Principal;
import io.gpucloud.controlplane.web.StrictJson;
import jakarta.servlet.http.HttpServletRequest;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestAttribute;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** A project's SSH keys, referenced by id when creating VMs. */
@RestController
@RequestMapping("/api/v1/ssh-keys")
class SshKeyController {

    private final SshKeys keys;

    SshKeyController(SshKeys keys) {
        this.keys = keys;
    }

    @StrictJson.Reject
    record CreateSshKey(String name, String publicKey) {
    }

    @PostMapping
    @ResponseStatus(HttpStatus.CREATED)
    SshKeys.SshKey create(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller,
            @RequestBody CreateSshKey request, HttpServletRequest http) {
        SshKeys.SshKey key = keys.create(caller.projectId(), request.name(), request.publicKey());
        AuditInterceptor.target(http, "ssh-key", key.id());
        return key;
    }

    @GetMapping
    Map<String, List<SshKeys.SshKey>> list(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller) {
        return Map.of("items", keys.list(caller.projectId()));
    }

    @GetMapping("/{keyId}")
    SshKeys.SshKey get(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller, @PathVariable UUID keyId) {
        return keys.get(caller.projectId(), keyId);
    }

    @DeleteMapping("/{keyId}")
    @ResponseStatus(HttpStatus.NO_CONTENT)
    void delete(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller, @PathVariable UUID keyId) {
        keys.delete(caller.projectId(), keyId);
    }
}
