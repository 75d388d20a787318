package io.gpucloud.controlplane.tenancy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Bearer secrets. Tokens carry 190 bits of randomness, so a fast hash (SHA-256) is the right
 * tool: there is nothing to brute-force, and lookups by hash stay an index probe.
 */
public final class Tokens {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final char[] ALPHABET =
            "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray();

    private Tokens() {
    }

    /** A new secret such as {@code gpc_admin_3kP...}; the prefix tells an operator what leaked. */
    public static String generate(String kind) {
        StringBuilder sb = new StringBuilder("gpc_").append(kind).append('_');
        for (int i = 0; i < 32; i++) {
            sb.append(ALPHABET[RANDOM.nextInt(ALPHABET.length)]);
        }
        return sb.toString();
    }

    /** A password for a person to type once (first start, demo): {@code length} random letters and digits. */
    public static String password(int length) {
        StringBuilder sb = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            sb.append(ALPHABET[RANDOM.nextInt(ALPHABET.length)]);
        }
        return sb.toString();
    }

    public static String hash(String token) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(digest.digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JRE", e);
        }
    }

    /** What may be shown of a token later (lists, audit) without revealing it. */
    public static String prefix(String token) {
        return token.length() <= 14 ? token : token.substring(0, 14);
    }
}
