package io.gpucloud.controlplane.api;

import io.gpucloud.controlplane.tenancy.Principal;
import io.gpucloud.controlplane.vm.VmService;
import io.gpucloud.controlplane.web.StrictJson;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import jakarta.servlet.http.HttpServletRequest;
import java.util.List;
import java.util.UUID;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestAttribute;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** Customers' VMs, always within the project of the calling token. */
@RestController
@RequestMapping("/api/v1/vms")
class VmController {

    private final CustomerVms vms;
    private final VmService lifecycle;

    VmController(CustomerVms vms, VmService lifecycle) {
        this.vms = vms;
        this.lifecycle = lifecycle;
    }

    @StrictJson.Reject
    record CreateVm(String name, String instanceType, String location, List<String> sshPublicKeys,
                    List<UUID> sshKeyIds, Long expectedDurationSeconds, String bootImage, String userData) {
    }

    /** 201 for a new VM; 200 with the same VM when an Idempotency-Key replays the same request. */
    @PostMapping
    @ApiResponse(responseCode = "201", description = "Created", useReturnTypeSchema = true)
    @ApiResponse(responseCode = "200", description = "Replayed: the VM an earlier request with the same "
            + "Idempotency-Key and body created", useReturnTypeSchema = true)
    ResponseEntity<CustomerVms.CustomerVm> create(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller,
            @RequestHeader(name = "Idempotency-Key", required = false) String idempotencyKey,
            @RequestBody CreateVm request, HttpServletRequest http) {
        CustomerVms.Created created = vms.create(caller.projectId(), request, idempotencyKey);
        AuditInterceptor.target(http, "vm", created.vm().id());
        return ResponseEntity.status(created.replayed() ? HttpStatus.OK : HttpStatus.CREATED).body(created.vm());
    }

    @GetMapping
    CustomerVms.Page list(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller,
            @RequestParam(defaultValue = "20") int limit, @RequestParam(required = false) String cursor,
            @RequestParam(required = false) String state, @RequestParam(required = false) String name) {
        return vms.list(caller.projectId(), limit, cursor, state, name);
    }

    @GetMapping("/{vmId}")
    CustomerVms.CustomerVm get(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller,
            @PathVariable UUID vmId) {
        return vms.get(caller.projectId(), vmId);
    }

    @PostMapping("/{vmId}/{action:start|stop|reboot}")
    @ResponseStatus(HttpStatus.ACCEPTED)
    CustomerVms.CustomerVm act(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller,
            @PathVariable UUID vmId, @PathVariable String action) {
        lifecycle.signal(vmId, action, caller.projectId());
        return vms.get(caller.projectId(), vmId);
    }

    @DeleteMapping("/{vmId}")
    @ResponseStatus(HttpStatus.ACCEPTED)
    CustomerVms.CustomerVm delete(@RequestAttribute(Principal.REQUEST_ATTRIBUTE) Principal caller,
            @PathVariable UUID vmId) {
        lifecycle.signal(vmId, "destroy", caller.projectId());
        return vms.get(caller.projectId(), vmId);
    }
}
