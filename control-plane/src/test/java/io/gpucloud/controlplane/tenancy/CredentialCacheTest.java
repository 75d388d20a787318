package io.gpucloud.controlplane.tenancy;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpucloud.controlplane.ControlPlaneTestBase;
import io.gpucloud.controlplane.inventory.TestTopologiesAccess;
import io.gpucloud.protocol.Heartbeat;
import io.gpucloud.protocol.RegisterRequest;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Worker credentials are remembered for {@code gpucloud.worker.credential-cache-ttl}, API tokens'
 * last-used times are written at most every {@link TokenService#LAST_USED_PRECISION}: neither may let a
 * replaced or revoked credential through for longer than documented.
 */
class CredentialCacheTest extends ControlPlaneTestBase {

    private Response register(String name) {
        return call("POST", "/worker/v1/register", bootstrapToken(),
                new RegisterRequest("t", "credcache-1", TestTopologiesAccess.h100(name)));
    }

    private int heartbeat(String hostId, String credential) {
        return call("POST", "/worker/v1/hosts/" + hostId + "/heartbeat", credential,
                new Heartbeat(Instant.now(), "t")).status();
    }

    @Test
    void aReplacedWorkerCredentialIsRefusedAtOnceThoughItWasJustUsed() {
        Response first = register("credcache-h100-a");
        String hostId = first.json().get("hostId").asString();
        String old = first.json().get("credential").asString();
        assertThat(heartbeat(hostId, old)).isEqualTo(200); // now remembered
        assertThat(heartbeat(hostId, old)).isEqualTo(200);

        Response second = register("credcache-h100-a"); // re-registration replaces the credential
        assertThat(heartbeat(hostId, old)).isEqualTo(401);
        assertThat(heartbeat(hostId, second.json().get("credential").asString())).isEqualTo(200);
    }

    @Test
    void aCredentialChangedElsewhereIsRefusedWithinTheCacheTime() throws Exception {
        Response r = register("credcache-h100-b");
        UUID hostId = UUID.fromString(r.json().get("hostId").asString());
        String credential = r.json().get("credential").asString();
        // another instance's view: its cache is not told when this one re-registers the host
        TokenService other = new TokenService(jdbc, Duration.ofMillis(400));
        assertThat(other.authenticateHost(credential)).map(Principal::subjectId).contains(hostId);

        jdbc.sql("UPDATE host SET credential_hash = ? WHERE id = ?")
                .params(Tokens.hash(Tokens.generate("host")), hostId).update();
        long changed = System.nanoTime();
        if (other.authenticateHost(credential).isPresent()) {
            assertThat(System.nanoTime() - changed).as("still remembered only within the cache time")
                    .isLessThan(Duration.ofMillis(400).toNanos());
        }
        Thread.sleep(450);
        assertThat(other.authenticateHost(credential)).isEmpty();
        assertThat(heartbeat(hostId.toString(), credential)).as("this instance reads it afresh").isEqualTo(401);
    }

    @Test
    void withoutACacheTimeEveryCallReadsTheDatabase() {
        Response r = register("credcache-h100-c");
        UUID hostId = UUID.fromString(r.json().get("hostId").asString());
        String credential = r.json().get("credential").asString();
        TokenService uncached = new TokenService(jdbc, Duration.ZERO);
        assertThat(uncached.authenticateHost(credential)).isPresent();
        jdbc.sql("UPDATE host SET credential_hash = ? WHERE id = ?")
                .params(Tokens.hash(Tokens.generate("host")), hostId).update();
        assertThat(uncached.authenticateHost(credential)).isEmpty();
    }

    @Test
    void apiTokensRecordTheirLastUseCoarselyAndRevocationIsImmediate() {
        UUID project = new Projects(jdbc).ensureProject("credcache-t", "credcache-p");
        TokenService.IssuedToken issued = tokens.issueProjectToken("cache", project);
        assertThat(lastUsed(issued.id())).isNull();

        assertThat(tokens.authenticate(issued.token())).isPresent();
        Timestamp first = lastUsed(issued.id());
        assertThat(first).as("the first use is recorded").isNotNull();
        assertThat(tokens.authenticate(issued.token())).isPresent();
        assertThat(lastUsed(issued.id())).as("not rewritten within the precision").isEqualTo(first);

        jdbc.sql("UPDATE api_token SET last_used_at = now() - make_interval(secs => ?) WHERE id = ?")
                .params((double) TokenService.LAST_USED_PRECISION.toSeconds() + 1, issued.id()).update();
        Timestamp stale = lastUsed(issued.id());
        assertThat(tokens.authenticate(issued.token())).isPresent();
        assertThat(lastUsed(issued.id())).as("rewritten once older than the precision").isAfter(stale);

        assertThat(tokens.revokeProjectToken(project, issued.id())).isPresent();
        assertThat(tokens.authenticate(issued.token())).as("revocation takes effect at once").isEmpty();
    }

    private Timestamp lastUsed(UUID tokenId) {
        return jdbc.sql("SELECT last_used_at FROM api_token WHERE id = ?").param(tokenId)
                .query((rs, n) -> java.util.Optional.ofNullable(rs.getTimestamp(1))).single().orElse(null);
    }
}
