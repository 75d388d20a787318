package io.gpucloud.controlplane.console;

import io.gpucloud.controlplane.tenancy.Principal;
import io.gpucloud.controlplane.tenancy.Users;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.UUID;
import org.springframework.security.core.CredentialsContainer;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.security.core.userdetails.UserDetails;

/**
 * A signed-in console user. Admins get ROLE_ADMIN; tenant users get ROLE_CUSTOMER plus their
 * tenant role (ROLE_OWNER, ROLE_MEMBER, ROLE_VIEWER).
 */
public final class ConsoleUser implements UserDetails, CredentialsContainer {

    private final Users.User user;
    private String passwordHash;
    private final Instant lockedUntil;

    ConsoleUser(Users.Credentials credentials) {
        this.user = credentials.user();
        this.passwordHash = credentials.passwordHash();
        this.lockedUntil = credentials.lockedUntil();
    }

    public Users.User user() {
        return user;
    }

    /** The principal the services and the audit log know, acting as an operator. */
    public Principal asAdmin() {
        return new Principal(Principal.Kind.ADMIN, user.id(), null, "console:" + user.email());
    }

    /** The principal the services and the audit log know, acting inside one of the tenant's projects. */
    public Principal inProject(UUID projectId) {
        return new Principal(Principal.Kind.PROJECT, user.id(), projectId, "console:" + user.email());
    }

    @Override
    public Collection<? extends GrantedAuthority> getAuthorities() {
        List<GrantedAuthority> roles = new ArrayList<>();
        if (user.admin()) {
            roles.add(new SimpleGrantedAuthority("ROLE_ADMIN"));
        } else {
            roles.add(new SimpleGrantedAuthority("ROLE_CUSTOMER"));
            roles.add(new SimpleGrantedAuthority("ROLE_" + user.role().toUpperCase(java.util.Locale.ROOT)));
        }
        return roles;
    }

    @Override
    public String getPassword() {
        return passwordHash;
    }

    /** The hash is needed only to check the password; the session keeps no copy of it. */
    @Override
    public void eraseCredentials() {
        passwordHash = null;
    }

    @Override
    public String getUsername() {
        return user.email();
    }

    @Override
    public boolean isAccountNonLocked() {
        return lockedUntil == null || lockedUntil.isBefore(Instant.now());
    }

    @Override
    public boolean isEnabled() {
        return !user.disabled();
    }
}
