package io.gpucloud.controlplane.console;

import io.gpucloud.controlplane.api.CustomerVms;
import io.gpucloud.controlplane.api.InstanceTypes;
import io.gpucloud.controlplane.api.SshKeys;
import io.gpucloud.controlplane.api.Usage;
import io.gpucloud.controlplane.tenancy.AuditLog;
import io.gpucloud.controlplane.tenancy.TokenService;
import io.gpucloud.controlplane.tenancy.Users;
import io.gpucloud.controlplane.vm.VmService;
import io.gpucloud.controlplane.web.ApiException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import java.util.regex.Pattern;
import org.springframework.security.core.annotation.AuthenticationPrincipal;
import org.springframework.stereotype.Controller;
import org.springframework.ui.Model;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.ModelAttribute;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.servlet.mvc.support.RedirectAttributes;

/**
 * The customer's project: VMs (list, create with live availability, detail, lifecycle), SSH keys,
 * API tokens and the month's usage. Every page checks that the project is one of the signed-in
 * user's tenant (else 404); viewers see everything but change nothing (no forms, POSTs are 403).
 */
@Controller
class ProjectPagesController {

    private static final Pattern TOKEN_NAME = Pattern.compile("^[\\x20-\\x7e]{1,100}$");

    private final Users users;
    private final CustomerVms vms;
    private final VmService lifecycle;
    private final InstanceTypes types;
    private final SshKeys sshKeys;
    private final TokenService tokens;
    private final Usage usage;
    private final AuditLog audit;
    private final io.gpucloud.controlplane.api.BootImages bootImages;
    private final org.springframework.jdbc.core.simple.JdbcClient jdbc;

    ProjectPagesController(Users users, CustomerVms vms, VmService lifecycle, InstanceTypes types, SshKeys sshKeys,
                           TokenService tokens, Usage usage, AuditLog audit,
                           io.gpucloud.controlplane.api.BootImages bootImages,
                           org.springframework.jdbc.core.simple.JdbcClient jdbc) {
        this.bootImages = bootImages;
        this.jdbc = jdbc;
        this.users = users;
        this.vms = vms;
        this.lifecycle = lifecycle;
        this.types = types;
        this.sshKeys = sshKeys;
        this.tokens = tokens;
        this.usage = usage;
        this.audit = audit;
    }

    /** The create form's fields, kept when a create is refused so the user can correct them. */
    static final class VmForm {
        private String name = "";
        private String instanceType = "";
        private String location = "";
        private List<UUID> sshKeyIds = new ArrayList<>();
        private String sshPublicKey = "";
        private String bootImage = "";
        private String userData = "";

        public String getBootImage() { return bootImage; }
        public void setBootImage(String image) { this.bootImage = image == null ? "" : image; }
        public String getUserData() { return userData; }
        public void setUserData(String data) { this.userData = data == null ? "" : data; }

        public String getName() { return name; }
        public void setName(String name) { this.name = name == null ? "" : name.strip(); }
        public String getInstanceType() { return instanceType; }
        public void setInstanceType(String t) { this.instanceType = t == null ? "" : t; }
        public String getLocation() { return location; }
        public void setLocation(String location) { this.location = location == null ? "" : location; }
        public List<UUID> getSshKeyIds() { return sshKeyIds; }
        public void setSshKeyIds(List<UUID> ids) { this.sshKeyIds = ids == null ? new ArrayList<>() : ids; }
        public String getSshPublicKey() { return sshPublicKey; }
        public void setSshPublicKey(String k) { this.sshPublicKey = k == null ? "" : k; }
    }

    /** One row of the instance-type picker: shape, price and how many fit now per location. */
    record TypeChoice(InstanceTypes.InstanceType type, List<InstanceTypes.Availability> availability, int total) {
    }

    // ---- project switcher and VMs ----

    @GetMapping("/console/switch-project")
    String switchProject(@AuthenticationPrincipal ConsoleUser me, @RequestParam(required = false) String project) {
        UUID id = VmPages.id(project == null ? "" : project);
        return "redirect:/console/projects/" + mine(me, id).id();
    }

    @GetMapping("/console/projects/{projectId}")
    String project(@AuthenticationPrincipal ConsoleUser me, @PathVariable String projectId,
                   @RequestParam(required = false) String cursor, Model model) {
        Users.ProjectRef p = project(me, projectId, model);
        if (!model.containsAttribute("form")) {
            model.addAttribute("form", new VmForm());
        }
        return vmsPage(p, cursor, model);
    }

    private String vmsPage(Users.ProjectRef p, String cursor, Model model) {
        CustomerVms.Page page;
        try {
            page = vms.list(p.id(), 50, cursor, null, null);
        } catch (ApiException e) { // a cursor this page did not make
            page = vms.list(p.id(), 50, null, null, null);
        }
        model.addAttribute("vms", page.items());
        model.addAttribute("nextCursor", page.nextCursor());
        model.addAttribute("firstPage", cursor == null);
        model.addAttribute("anyTransitioning",
                page.items().stream().anyMatch(v -> VmPages.TRANSITIONING.contains(v.state())));
        Map<String, List<InstanceTypes.Availability>> availability = types.availability();
        List<TypeChoice> choices = types.all().stream().map(t -> {
            List<InstanceTypes.Availability> a = availability.getOrDefault(t.name(), List.of());
            return new TypeChoice(t, a, a.stream().mapToInt(InstanceTypes.Availability::available).sum());
        }).toList();
        TreeSet<String> locations = new TreeSet<>();
        availability.values().forEach(l -> l.forEach(a -> locations.add(a.location())));
        model.addAttribute("types", choices);
        model.addAttribute("locations", locations);
        model.addAttribute("keys", sshKeys.list(p.id()));
        model.addAttribute("bootImages", bootImages.all());
        model.addAttribute("imageLocations", bootImages.locations());
        return "console/project/vms";
    }

    @PostMapping("/console/projects/{projectId}/vms")
    String create(@AuthenticationPrincipal ConsoleUser me, @PathVariable String projectId,
                  @ModelAttribute("form") VmForm form, HttpServletRequest request, HttpServletResponse response,
                  Model model, RedirectAttributes flash) {
        Users.ProjectRef p = project(me, projectId, model);
        VmPages.requireChange(me);
        List<String> pasted = form.getSshPublicKey().isBlank() ? List.of() : List.of(form.getSshPublicKey());
        try {
            CustomerVms.CustomerVm vm = vms.create(p.id(), form.getName(), form.getInstanceType(),
                    form.getLocation().isBlank() ? null : form.getLocation(), pasted, form.getSshKeyIds(),
                    form.getBootImage().isBlank() ? null : form.getBootImage(),
                    form.getUserData().isBlank() ? null : form.getUserData());
            VmPages.audit(audit, me.inProject(p.id()), "vm.create", "vm", vm.id(), request, null);
            flash.addFlashAttribute("ok", "VM " + vm.name() + " is being created.");
            return "redirect:/console/projects/" + p.id() + "/vms/" + vm.id();
        } catch (ApiException e) {
            VmPages.audit(audit, me.inProject(p.id()), "vm.create", "vm", null, request, e);
            response.setStatus(e.status().value());
            model.addAttribute("createError", VmPages.message(e));
            model.addAttribute("createErrorField", fieldOf(e));
            return vmsPage(p, null, model);
        }
    }

    @GetMapping("/console/projects/{projectId}/vms/{vmId}")
    String vm(@AuthenticationPrincipal ConsoleUser me, @PathVariable String projectId, @PathVariable String vmId,
              Model model) {
        Users.ProjectRef p = project(me, projectId, model);
        CustomerVms.CustomerVm vm = vmOf(p, vmId);
        model.addAttribute("vm", vm);
        model.addAttribute("live", VmPages.live(jdbc, vm.id(), vm.state()));
        return "console/project/vm";
    }

    @PostMapping("/console/projects/{projectId}/vms/{vmId}/{action:start|stop|reboot|delete}")
    String act(@AuthenticationPrincipal ConsoleUser me, @PathVariable String projectId, @PathVariable String vmId,
               @PathVariable String action, HttpServletRequest request, Model model, RedirectAttributes flash) {
        Users.ProjectRef p = project(me, projectId, model);
        VmPages.requireChange(me);
        CustomerVms.CustomerVm vm = vmOf(p, vmId);
        try {
            lifecycle.signal(vm.id(), action.equals("delete") ? "destroy" : action, p.id());
            VmPages.audit(audit, me.inProject(p.id()), "vm." + action, "vm", vm.id(), request, null);
            flash.addFlashAttribute("ok", switch (action) {
                case "delete" -> "Deleting " + vm.name() + ".";
                case "stop" -> "Stopping " + vm.name() + ".";
                case "start" -> "Starting " + vm.name() + ".";
                default -> "Rebooting " + vm.name() + ".";
            });
        } catch (ApiException e) {
            VmPages.audit(audit, me.inProject(p.id()), "vm." + action, "vm", vm.id(), request, e);
            flash.addFlashAttribute("error", VmPages.message(e));
        }
        return "redirect:/console/projects/" + p.id() + "/vms/" + vm.id();
    }

    // ---- SSH keys ----

    @GetMapping("/console/projects/{projectId}/ssh-keys")
    String keys(@AuthenticationPrincipal ConsoleUser me, @PathVariable String projectId, Model model) {
        Users.ProjectRef p = project(me, projectId, model);
        model.addAttribute("keys", sshKeys.list(p.id()));
        return "console/project/ssh-keys";
    }

    @PostMapping("/console/projects/{projectId}/ssh-keys")
    String addKey(@AuthenticationPrincipal ConsoleUser me, @PathVariable String projectId,
                  @RequestParam(defaultValue = "") String name, @RequestParam(defaultValue = "") String publicKey,
                  HttpServletRequest request, HttpServletResponse response, Model model, RedirectAttributes flash) {
        Users.ProjectRef p = project(me, projectId, model);
        VmPages.requireChange(me);
        try {
            SshKeys.SshKey key = sshKeys.create(p.id(), name.strip(), publicKey);
            VmPages.audit(audit, me.inProject(p.id()), "ssh-key.create", "ssh-key", key.id(), request, null);
            flash.addFlashAttribute("ok", "Added SSH key " + key.name() + " (" + key.fingerprint() + ").");
            return "redirect:/console/projects/" + p.id() + "/ssh-keys";
        } catch (ApiException e) {
            VmPages.audit(audit, me.inProject(p.id()), "ssh-key.create", "ssh-key", null, request, e);
            response.setStatus(e.status().value());
            model.addAttribute("formError", VmPages.message(e));
            model.addAttribute("formErrorField", fieldOf(e));
            model.addAttribute("keyName", name);
            model.addAttribute("publicKey", publicKey);
            model.addAttribute("keys", sshKeys.list(p.id()));
            return "console/project/ssh-keys";
        }
    }

    @PostMapping("/console/projects/{projectId}/ssh-keys/{keyId}/delete")
    String deleteKey(@AuthenticationPrincipal ConsoleUser me, @PathVariable String projectId,
                     @PathVariable String keyId, HttpServletRequest request, Model model, RedirectAttributes flash) {
        Users.ProjectRef p = project(me, projectId, model);
        VmPages.requireChange(me);
        UUID id = VmPages.id(keyId);
        try {
            sshKeys.delete(p.id(), id);
        } catch (ApiException e) {
            throw new VmPages.NotFound();
        }
        VmPages.audit(audit, me.inProject(p.id()), "ssh-key.delete", "ssh-key", id, request, null);
        flash.addFlashAttribute("ok", "Deleted the SSH key.");
        return "redirect:/console/projects/" + p.id() + "/ssh-keys";
    }

    // ---- API tokens ----

    @GetMapping("/console/projects/{projectId}/tokens")
    String tokens(@AuthenticationPrincipal ConsoleUser me, @PathVariable String projectId, Model model) {
        Users.ProjectRef p = project(me, projectId, model);
        model.addAttribute("tokens", tokens.listProjectTokens(p.id()));
        return "console/project/tokens";
    }

    @PostMapping("/console/projects/{projectId}/tokens")
    String createToken(@AuthenticationPrincipal ConsoleUser me, @PathVariable String projectId,
                       @RequestParam(defaultValue = "") String name, @RequestParam(required = false) Integer ttlDays,
                       HttpServletRequest request, HttpServletResponse response, Model model,
                       RedirectAttributes flash) {
        Users.ProjectRef p = project(me, projectId, model);
        VmPages.requireChange(me);
        String error = null;
        if (name.isBlank() || !TOKEN_NAME.matcher(name).matches()) {
            error = "The name is required: 1-100 printable ASCII characters.";
        } else if (ttlDays != null && (ttlDays < 1 || ttlDays > 365)) {
            error = "Expiry must be between 1 and 365 days.";
        }
        if (error != null) {
            response.setStatus(400);
            model.addAttribute("formError", error);
            model.addAttribute("tokenName", name);
            model.addAttribute("tokens", tokens.listProjectTokens(p.id()));
            return "console/project/tokens";
        }
        TokenService.IssuedToken issued = tokens.issueProjectToken(name.strip(), p.id(),
                ttlDays == null ? null : java.time.Instant.now().plus(java.time.Duration.ofDays(ttlDays)));
        VmPages.audit(audit, me.inProject(p.id()), "token.create", "token", issued.id(), request, null);
        // shown once: the flash lives for the next request only and the list shows just the prefix
        flash.addFlashAttribute("newToken", issued.token());
        flash.addFlashAttribute("newTokenName", name.strip());
        return "redirect:/console/projects/" + p.id() + "/tokens";
    }

    @PostMapping("/console/projects/{projectId}/tokens/{tokenId}/revoke")
    String revokeToken(@AuthenticationPrincipal ConsoleUser me, @PathVariable String projectId,
                       @PathVariable String tokenId, HttpServletRequest request, Model model,
                       RedirectAttributes flash) {
        Users.ProjectRef p = project(me, projectId, model);
        VmPages.requireChange(me);
        UUID id = VmPages.id(tokenId);
        TokenService.TokenInfo t = tokens.revokeProjectToken(p.id(), id).orElseThrow(VmPages.NotFound::new);
        VmPages.audit(audit, me.inProject(p.id()), "token.delete", "token", id, request, null);
        flash.addFlashAttribute("ok", "Revoked token " + t.name() + ".");
        return "redirect:/console/projects/" + p.id() + "/tokens";
    }

    // ---- usage ----

    @GetMapping("/console/projects/{projectId}/usage")
    String usage(@AuthenticationPrincipal ConsoleUser me, @PathVariable String projectId, Model model) {
        Users.ProjectRef p = project(me, projectId, model);
        YearMonth month = YearMonth.now(ZoneOffset.UTC);
        model.addAttribute("month", month.toString());
        model.addAttribute("report", usage.report(p.id(), month));
        return "console/project/usage";
    }



    // ---- helpers ----

    /** The project, if it is the signed-in user's tenant's; else the 404 page. Sets what the layout needs. */
    private Users.ProjectRef project(ConsoleUser me, String projectId, Model model) {
        Users.ProjectRef p = mine(me, VmPages.id(projectId));
        model.addAttribute("projectId", p.id());
        model.addAttribute("project", p);
        model.addAttribute("canChange", me.user().canChange());
        return p;
    }

    private Users.ProjectRef mine(ConsoleUser me, UUID projectId) {
        return users.projectsOf(me.user()).stream().filter(p -> p.id().equals(projectId)).findFirst()
                .orElseThrow(VmPages.NotFound::new);
    }

    private CustomerVms.CustomerVm vmOf(Users.ProjectRef p, String vmId) {
        try {
            return vms.get(p.id(), VmPages.id(vmId));
        } catch (ApiException e) {
            throw new VmPages.NotFound();
        }
    }

    private static String fieldOf(ApiException e) {
        Object f = e.properties().get("field");
        if (f == null) {
            return e.properties().containsKey("resource") ? "instanceType" : null;
        }
        String field = f.toString();
        if (field.startsWith("sshPublicKeys")) {
            return "sshPublicKey";
        }
        return field.startsWith("sshKeyIds") ? "sshKeyIds" : field;
    }
}
